// libFuzzer target: any bytes, with both real vocabularies (from the test
// fixtures), with and without special tokens, must encode, decode to the
// same bytes, and stream to valid UTF-8.
//
// Build and run (from the repository root):
//   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Ilib -Itests
//     lib/core/*.c lib/format/*.c lib/text/*.c tests/fuzz/fuzz_tokenizer.c -o /tmp/fuzz_tokenizer
//   PHI_TOKENIZER_FIXTURES=tests/fixtures/tokenizer /tmp/fuzz_tokenizer -max_len=4096
// The first input byte picks the vocabulary (bit 0) and parse_special (bit 1).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "phi4.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "text/utf8_stream.h"
#include "vocab_fixture.h"

static phi_mem mem;
static phi_tokenizer *tokenizers[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fixture_dir = getenv("PHI_TOKENIZER_FIXTURES");
    if (!fixture_dir)
        fixture_dir = "tests/fixtures/tokenizer";
    phi_mem_init_default(&mem);
    tokenizers[0] = fixture_tokenizer(&mem, "cl100k.vocab", false);
    tokenizers[1] = fixture_tokenizer(&mem, "o200k.vocab", false);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const phi_tokenizer *t = tokenizers[data[0] & 1];
    bool special = data[0] & 2;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    size_t n, n_again;
    phi_err err = {0};
    int32_t *ids = malloc((len + 1) * sizeof *ids);
    if (phi_tokenizer_encode(t, text, len, special, ids, len + 1, &n, &err) != PHI_OK)
        abort();
    /* The count alone, as the first of two calls would ask. */
    int rc = phi_tokenizer_encode(t, text, len, special, NULL, 0, &n_again, &err);
    if (n_again != n || rc != (n ? PHI_E_BUFFER_TOO_SMALL : PHI_OK))
        abort();

    uint8_t *back = malloc(len + 1);
    size_t back_len;
    if (phi_tokenizer_decode(t, ids, n, back, len, &back_len, &err) != PHI_OK || back_len != len ||
        memcmp(back, text, len) != 0)
        abort();

    uint8_t *out = malloc(PHI_UTF8_STREAM_MAX_OUT(len));
    phi_utf8_stream s;
    phi_utf8_stream_init(&s);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *piece;
        size_t piece_len;
        if (phi_tokenizer_piece(t, ids[i], &piece, &piece_len) != PHI_OK)
            abort();
        w += phi_utf8_stream_feed(&s, piece, piece_len, out + w);
    }
    w += phi_utf8_stream_flush(&s, out + w);
    for (size_t i = 0, clen; i < w; i += clen)
        if (phi_utf8_decode(out + i, w - i, &clen) == PHI_UTF8_INVALID)
            abort();
    free(ids), free(back), free(out);
    return 0;
}
