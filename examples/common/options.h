/* The command-line options of the example programs (phi4, phi4-server), in
 * the style of llama.cpp and Ollama. One table describes every flag: the
 * parser and the usage text both read it, so they cannot drift apart. */
#ifndef PHI_EXAMPLES_OPTIONS_H
#define PHI_EXAMPLES_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "phi4.h"

typedef enum example_program {
    EXAMPLE_PROGRAM_CLI,    /* phi4 */
    EXAMPLE_PROGRAM_SERVER, /* phi4-server */
} example_program;

/* The program's name as its messages and usage text spell it. */
const char *example_program_name(example_program program);

/* Values of --think, in the order the flag lists them. */
typedef enum example_think { EXAMPLE_THINK_SHOW, EXAMPLE_THINK_HIDE } example_think;
/* Values of --kv-type, in the order the flag lists them. */
typedef enum example_kv_type { EXAMPLE_KV_F16, EXAMPLE_KV_F32 } example_kv_type;

typedef struct example_options {
    const char *model;      /* a GGUF path, or ollama:NAME[:TAG] */
    const char *prompt;     /* -p, or the text of -f; NULL when neither is given */
    const char *system;     /* NULL: none */
    int64_t n_predict;      /* -1: until the turn ends or the context is full */
    int64_t threads;        /* 0: one per CPU */
    int64_t ctx_size;       /* 0: min(trained, 4096) */
    double temp, top_p, min_p, repeat_penalty;
    int64_t top_k;
    int64_t seed;           /* -1: from the clock */
    int think;              /* example_think */
    int kv_type;            /* example_kv_type */
    bool no_mmap;
    bool help, version;
    /* phi4 only */
    bool raw;               /* the prompt is plain text to continue */
    bool interactive;       /* chat turns from stdin (also the default without a prompt) */
    /* phi4-server only */
    const char *host;
    int64_t port;
    int64_t parallel;       /* contexts serving requests at once */
    int64_t max_body;       /* bytes of a request body at most */

    char *prompt_file_text; /* owned: what -f read */
} example_options;

/* Fill o with the defaults. */
void example_options_init(example_options *o);
/* Parse argv[1..argc) for the program into o (after example_options_init).
 * PHI_OK, or PHI_E_INVALID_ARG (an unknown flag, a flag of the other
 * program, a missing or malformed value, a number out of range, a missing
 * model) or PHI_E_IO / PHI_E_NOMEM (reading -f), with a message naming the
 * flag in err. With --help or --version o->help / o->version is set and the
 * model is not required; the caller prints and exits. */
int32_t example_options_parse(example_options *o, example_program program, int argc,
                              char **argv, phi_err *err);
/* Release what parsing allocated; o stays valid for example_options_init. */
void example_options_free(example_options *o);

/* The usage text: every flag the program takes, with its default. */
void example_options_usage(example_program program, FILE *out);

#endif
