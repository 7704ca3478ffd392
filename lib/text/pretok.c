/* The split regexes as hand-written matchers. Each alt_* function tries one
 * alternative at a position and returns the end of its match, or NO_MATCH;
 * the comments derive what the regex's backtracking amounts to. */
#include "text/pretok.h"

#include <stdbool.h>

#include "text/unicode.h"

#define NO_MATCH ((size_t)-1)

typedef struct text {
    const uint8_t *s;
    size_t n;
} text;

/* One character: its code point (PHI_UTF8_INVALID for a stray byte), class
 * flags and byte length. */
typedef struct ch {
    uint32_t cp, flags;
    size_t len;
} ch;

static ch char_at(text t, size_t pos)
{
    ch c;
    c.cp = phi_utf8_decode(t.s + pos, t.n - pos, &c.len);
    c.flags = c.cp == PHI_UTF8_INVALID ? 0 : phi_unicode_flags(c.cp);
    return c;
}

static bool is_crlf(ch c) { return c.cp == '\r' || c.cp == '\n'; }
static bool is_letter(ch c) { return c.flags & PHI_UC_L; }
static bool is_number(ch c) { return c.flags & PHI_UC_N; }
static bool is_space(ch c) { return c.flags & PHI_UC_SPACE; }
/* [^\r\n\p{L}\p{N}] */
static bool is_word_prefix(ch c) { return !is_crlf(c) && !is_letter(c) && !is_number(c); }
/* [^\s\p{L}\p{N}] */
static bool is_symbol(ch c) { return !is_space(c) && !is_letter(c) && !is_number(c); }
/* o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
static bool is_upperish(ch c) { return c.flags & (PHI_UC_LU | PHI_UC_LT | PHI_UC_LM | PHI_UC_LO | PHI_UC_M); }
static bool is_lowerish(ch c) { return c.flags & (PHI_UC_LL | PHI_UC_LM | PHI_UC_LO | PHI_UC_M); }

static uint8_t ascii_lower(uint8_t b) { return b >= 'A' && b <= 'Z' ? b + 32 : b; }

/* 's|'t|'re|'ve|'m|'ll|'d, ASCII case-insensitive. */
static size_t alt_contraction(text t, size_t pos)
{
    static const char *const suffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    if (pos >= t.n || t.s[pos] != '\'')
        return NO_MATCH;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = 0;
        while (suffixes[i][k] && pos + 1 + k < t.n && ascii_lower(t.s[pos + 1 + k]) == (uint8_t)suffixes[i][k])
            k++;
        if (!suffixes[i][k])
            return pos + 1 + k;
    }
    return NO_MATCH;
}

/* End of the run of characters satisfying pred, starting at pos. */
static size_t run_end(text t, size_t pos, bool (*pred)(ch))
{
    while (pos < t.n) {
        ch c = char_at(t, pos);
        if (!pred(c))
            break;
        pos += c.len;
    }
    return pos;
}

/* [^\r\n\p{L}\p{N}]?\p{L}+ : the optional prefix can never be a letter, so
 * either a letter starts here, or a prefix character followed by one. */
static size_t alt_cl100k_word(text t, size_t pos)
{
    ch c = char_at(t, pos);
    if (is_letter(c))
        return run_end(t, pos, is_letter);
    if (is_word_prefix(c) && pos + c.len < t.n && is_letter(char_at(t, pos + c.len)))
        return run_end(t, pos + c.len, is_letter);
    return NO_MATCH;
}

/* \p{N}{1,3} */
static size_t alt_digits(text t, size_t pos)
{
    size_t end = pos;
    for (int i = 0; i < 3 && end < t.n; i++) {
        ch c = char_at(t, end);
        if (!is_number(c))
            break;
        end += c.len;
    }
    return end > pos ? end : NO_MATCH;
}

static bool is_crlf_or_slash(ch c) { return is_crlf(c) || c.cp == '/'; }

/* " ?[^\s\p{L}\p{N}]+" then [\r\n]* (cl100k) or [\r\n/]* (o200k). The space
 * is a \s, so it can only be the optional one, and only if a symbol follows. */
static size_t alt_symbols(text t, size_t pos, bool slash_in_tail)
{
    size_t start = pos;
    if (t.s[pos] == ' ' && pos + 1 < t.n && is_symbol(char_at(t, pos + 1)))
        start = pos + 1;
    if (!is_symbol(char_at(t, start)))
        return NO_MATCH;
    size_t end = run_end(t, start, is_symbol);
    return run_end(t, end, slash_in_tail ? is_crlf_or_slash : is_crlf);
}

/* The three whitespace alternatives, given the maximal \s run [pos, end):
 * \s*[\r\n]+ ends just after the run's last CR/LF (\s* backs off to it and
 * [\r\n]+ cannot extend past it); \s+(?!\S) takes the whole run at the end of
 * the text, else all but its last character (which must leave one); \s+
 * takes the whole run. */
static size_t alt_spaces(text t, size_t pos)
{
    size_t end = pos, last_crlf_end = NO_MATCH, last_char = pos;
    while (end < t.n) {
        ch c = char_at(t, end);
        if (!is_space(c))
            break;
        last_char = end;
        end += c.len;
        if (is_crlf(c))
            last_crlf_end = end;
    }
    if (end == pos)
        return NO_MATCH;
    if (last_crlf_end != NO_MATCH)
        return last_crlf_end;
    if (end == t.n || last_char == pos)
        return end;
    return last_char;
}

/* o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ from pos.
 * The greedy upper run [pos, u) gives back characters until the lower run can
 * start: at u if a lower-class character is there (and it then runs on);
 * otherwise at the last character inside the run that is also lower-class
 * (Lm, Lo, M), and the lower run is just that character, since what follows
 * it in the run is Lu/Lt. */
static size_t o200k_lower_word(text t, size_t pos)
{
    size_t u = pos, last_lowerish_end = NO_MATCH;
    while (u < t.n) {
        ch c = char_at(t, u);
        if (!is_upperish(c))
            break;
        u += c.len;
        if (is_lowerish(c))
            last_lowerish_end = u;
    }
    if (u < t.n && is_lowerish(char_at(t, u)))
        return run_end(t, u, is_lowerish);
    return last_lowerish_end;
}

/* o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* (no
 * backtracking can matter: the tail may be empty). */
static size_t o200k_upper_word(text t, size_t pos)
{
    if (pos >= t.n || !is_upperish(char_at(t, pos)))
        return NO_MATCH;
    return run_end(t, run_end(t, pos, is_upperish), is_lowerish);
}

/* [^\r\n\p{L}\p{N}]? word (contraction)? : the prefix is tried first, then
 * the same word without it (a mark may be both prefix and word). */
static size_t alt_o200k_word(text t, size_t pos, size_t (*word)(text, size_t))
{
    size_t end = NO_MATCH;
    ch c = char_at(t, pos);
    if (is_word_prefix(c))
        end = word(t, pos + c.len);
    if (end == NO_MATCH)
        end = word(t, pos);
    if (end == NO_MATCH)
        return NO_MATCH;
    size_t with_contraction = alt_contraction(t, end);
    return with_contraction != NO_MATCH ? with_contraction : end;
}

size_t phi_pretok_next(phi_pretok_kind kind, const uint8_t *s, size_t len, size_t pos)
{
    text t = {s, len};
    size_t end;
    if (kind == PHI_PRETOK_CL100K) {
        if ((end = alt_contraction(t, pos)) != NO_MATCH) return end - pos;
        if ((end = alt_cl100k_word(t, pos)) != NO_MATCH) return end - pos;
    } else {
        if ((end = alt_o200k_word(t, pos, o200k_lower_word)) != NO_MATCH) return end - pos;
        if ((end = alt_o200k_word(t, pos, o200k_upper_word)) != NO_MATCH) return end - pos;
    }
    if ((end = alt_digits(t, pos)) != NO_MATCH) return end - pos;
    if ((end = alt_symbols(t, pos, kind == PHI_PRETOK_O200K)) != NO_MATCH) return end - pos;
    if ((end = alt_spaces(t, pos)) != NO_MATCH) return end - pos;
    /* Unreachable: every character is a letter, number, space or symbol. */
    return char_at(t, pos).len;
}
