/* Random-weight GGUF models with the real shapes of Phi-4-mini and Phi-4, for
 * measuring speed without downloading anything. The hyper-parameters,
 * tensor names and shapes are those of llama.cpp's phi3 files
 * (/work/shared/docs/phi4-family.md §1, §2, §4; gguf-and-quants.md §4);
 * the weights are quantized blocks drawn at random (scales chosen so every
 * matrix has entries of standard deviation ~1/sqrt(fan-in), norm gains ~1),
 * so activations stay finite through every layer. The vocabulary is a small
 * byte-level BPE one padded with <|dummy_k|> control tokens. */
#ifndef PHI4_BENCH_FAKE_MODEL_H
#define PHI4_BENCH_FAKE_MODEL_H

#include <stddef.h>
#include <stdint.h>

typedef struct fake_model_spec {
    const char *shape;   /* "phi4-mini" or "phi4" */
    const char *type;    /* "q4_0", "q8_0", "f16", "q4_k_m" or "q5_k_m" */
    int n_layer;         /* 0: the real count */
    int64_t n_vocab;     /* 0: the real size */
    uint64_t seed;
} fake_model_spec;

/* What the q4_k_m and q5_k_m types mean here, for --help and reports. */
extern const char fake_model_k_m_rule[];

/* Write the model to path. Returns 0, or -1 with a sentence in msg (a bad
 * spec, or the errno of a failed write; the partial file is removed).
 * *bytes gets the file size. */
int fake_model_write(const fake_model_spec *spec, const char *path, uint64_t *bytes, char *msg,
                     size_t msg_cap);

#endif
