#include "text/chat.h"

#include <string.h>

#include "text/unicode.h"

/* Phi-4-reasoning's recommended system prompt (model card; its chat template
 * writes it when the conversation has no system message). */
static const char phi4_reasoning_system[] =
    "You are Phi, a language model trained by Microsoft to help users. Your role as an assistant "
    "involves thoroughly exploring questions through a systematic thinking process before "
    "providing the final precise and accurate solutions. This requires engaging in a "
    "comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, "
    "backtracing, and iteration to develop well-considered thinking process. Please structure "
    "your response into two main sections: Thought and Solution using the specified format: "
    "<think> {Thought section} </think> {Solution section}. In the Thought section, detail your "
    "reasoning process in steps. Each step should include detailed considerations such as "
    "analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the "
    "accuracy of the current steps, refining any errors, and revisiting previous steps. In the "
    "Solution section, based on various attempts, explorations, and reflections from the Thought "
    "section, systematically present the final solution that you deem correct. The Solution "
    "section should be logical, accurate, and concise and detail necessary steps needed to reach "
    "the conclusion. Now, try to solve the following question through the above guidelines:";

/* Phi-4-mini-reasoning's system sentence (model card). */
static const char mini_reasoning_system[] =
    "Your name is Phi, an AI math expert developed by Microsoft.";

const char *phi_chat_default_system(int format)
{
    switch (format) {
    case PHI_CHAT_FORMAT_PHI4_REASONING: return phi4_reasoning_system;
    case PHI_CHAT_FORMAT_PHI4_MINI_REASONING: return mini_reasoning_system;
    default: return NULL;
    }
}

static bool contains(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(s + i, needle, n) == 0)
            return true;
    return false;
}

int phi_chat_detect(const char *tmpl, size_t len)
{
    if (!tmpl)
        return PHI_CHAT_FORMAT_AUTO;
    if (contains(tmpl, len, "<|im_start|>") && contains(tmpl, len, "<|im_sep|>"))
        return contains(tmpl, len, "You are Phi, a language model trained by Microsoft")
                   ? PHI_CHAT_FORMAT_PHI4_REASONING
                   : PHI_CHAT_FORMAT_PHI4;
    /* Phi-4-mini writes the role marker as '<|' + role + '|>'. */
    bool role_markers = contains(tmpl, len, "<|assistant|>") || contains(tmpl, len, "'<|' +");
    if (role_markers && contains(tmpl, len, "<|end|>"))
        return contains(tmpl, len, "Your name is Phi, an AI math expert")
                   ? PHI_CHAT_FORMAT_PHI4_MINI_REASONING
                   : PHI_CHAT_FORMAT_PHI4_MINI;
    return PHI_CHAT_FORMAT_AUTO;
}

static bool has_special(const phi_tokenizer *t, const char *text)
{
    return phi_tokenizer_find_special(t, text, strlen(text)) >= 0;
}

const char *phi_chat_missing_marker(int format, const phi_tokenizer *t)
{
    static const char *const phi4[] = {"<|im_start|>", "<|im_sep|>", "<|im_end|>", NULL};
    static const char *const mini[] = {"<|system|>", "<|user|>", "<|assistant|>", "<|end|>", NULL};
    const char *const *need = format == PHI_CHAT_FORMAT_PHI4_MINI ||
                                      format == PHI_CHAT_FORMAT_PHI4_MINI_REASONING
                                  ? mini
                                  : phi4;
    for (; *need; need++)
        if (!has_special(t, *need))
            return *need;
    return NULL;
}

int phi_chat_detect_from_vocab(const phi_tokenizer *t)
{
    if (has_special(t, "<|im_start|>") && has_special(t, "<|im_sep|>") &&
        has_special(t, "<|im_end|>"))
        return PHI_CHAT_FORMAT_PHI4;
    if (has_special(t, "<|user|>") && has_special(t, "<|assistant|>") && has_special(t, "<|end|>"))
        return PHI_CHAT_FORMAT_PHI4_MINI;
    return PHI_CHAT_FORMAT_AUTO;
}

/* ---- rendering ---------------------------------------------------------- */

static bool valid_utf8(const char *s, size_t len)
{
    for (size_t i = 0, n; i < len; i += n)
        if (phi_utf8_decode((const uint8_t *)s + i, len - i, &n) == PHI_UTF8_INVALID)
            return false;
    return true;
}

typedef struct walk {
    phi_chat_sink sink;
    void *user;
    int rc;
} walk;

static void put(walk *w, const char *text, size_t len, bool markers)
{
    if (w->rc == 0 && len)
        w->rc = w->sink(w->user, text, len, markers);
}

static void marker(walk *w, const char *text) { put(w, text, strlen(text), true); }
static void text(walk *w, const char *s) { put(w, s, strlen(s), false); }

static bool is_mini(int format)
{
    return format == PHI_CHAT_FORMAT_PHI4_MINI || format == PHI_CHAT_FORMAT_PHI4_MINI_REASONING;
}

/* The format's markers around a message of `role`; false if it has none. */
static bool role_markers(int format, const char *role, const char **open, const char **close)
{
    static const struct {
        const char *role, *phi4_open, *mini_open;
    } roles[] = {
        {"system", "<|im_start|>system<|im_sep|>", "<|system|>"},
        {"user", "<|im_start|>user<|im_sep|>", "<|user|>"},
        {"assistant", "<|im_start|>assistant<|im_sep|>", "<|assistant|>"},
        {"tool", NULL, "<|tool|>"},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(role, roles[i].role) != 0)
            continue;
        *open = is_mini(format) ? roles[i].mini_open : roles[i].phi4_open;
        *close = is_mini(format) ? "<|end|>" : "<|im_end|>";
        return *open != NULL;
    }
    return false;
}

static int check_messages(int format, const phi_chat_message *msgs, size_t n, const char *tools,
                          phi_err *err)
{
    if (n && !msgs)
        return phi_err_set(err, PHI_E_INVALID_ARG, "chat: messages is NULL");
    for (size_t i = 0; i < n; i++) {
        const char *open, *close;
        if (!msgs[i].role || !msgs[i].content)
            return phi_err_set(err, PHI_E_INVALID_ARG, "chat: message %zu has a NULL %s", i,
                               msgs[i].role ? "content" : "role");
        if (!role_markers(format, msgs[i].role, &open, &close))
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               "chat: message %zu has role '%.32s', which this format has no "
                               "place for (%s)",
                               i, msgs[i].role,
                               is_mini(format) ? "system, user, assistant, tool"
                                               : "system, user, assistant");
        if (!valid_utf8(msgs[i].content, strlen(msgs[i].content)))
            return phi_err_set(err, PHI_E_INVALID_ARG, "chat: message %zu is not valid UTF-8", i);
    }
    if (tools && !is_mini(format))
        return phi_err_set(err, PHI_E_UNSUPPORTED,
                           "chat: tool definitions need a Phi-4-mini chat format; Phi-4's has no "
                           "place for them");
    if (tools && !valid_utf8(tools, strlen(tools)))
        return phi_err_set(err, PHI_E_INVALID_ARG, "chat: the tool definitions are not valid UTF-8");
    return PHI_OK;
}

/* Phi-4-mini's system message: the reasoning sentence first (followed by
 * the caller's text after a space, as the published template does), then the
 * tool definitions. */
static void mini_system(walk *w, int format, const char *content, const char *tools,
                        uint32_t flags)
{
    const char *def = flags & PHI_CHAT_NO_DEFAULT_SYSTEM ? NULL : phi_chat_default_system(format);
    marker(w, "<|system|>");
    if (def) {
        text(w, def);
        if (content && *content)
            text(w, " ");
    }
    if (content)
        text(w, content);
    if (tools) {
        marker(w, "<|tool|>");
        text(w, tools);
        marker(w, "<|/tool|>");
    }
    marker(w, "<|end|>");
}

int phi_chat_render(int format, const phi_chat_message *msgs, size_t n, const char *tools,
                    uint32_t flags, phi_chat_sink sink, void *user, phi_err *err)
{
    if (format < PHI_CHAT_FORMAT_PHI4 || format > PHI_CHAT_FORMAT_PHI4_MINI_REASONING)
        return phi_err_set(err, PHI_E_INVALID_ARG, "chat: unknown chat format %d", format);
    if (flags & ~(PHI_CHAT_ADD_ASSISTANT | PHI_CHAT_NO_DEFAULT_SYSTEM))
        return phi_err_set(err, PHI_E_INVALID_ARG, "chat: unknown flags 0x%x", (unsigned)flags);
    int rc = check_messages(format, msgs, n, tools, err);
    if (rc != PHI_OK)
        return rc;
    walk w = {sink, user, 0};
    bool starts_with_system = n > 0 && strcmp(msgs[0].role, "system") == 0;
    const char *def = flags & PHI_CHAT_NO_DEFAULT_SYSTEM ? NULL : phi_chat_default_system(format);
    if (is_mini(format)) {
        if (!starts_with_system && (def || tools)) {
            mini_system(&w, format, NULL, tools, flags);
        }
    } else if (!starts_with_system && def) {
        marker(&w, "<|im_start|>system<|im_sep|>");
        marker(&w, def);
        marker(&w, "<|im_end|>");
    }
    for (size_t i = 0; i < n; i++) {
        const char *open = "", *close = ""; /* check_messages refused unknown roles */
        role_markers(format, msgs[i].role, &open, &close);
        if (is_mini(format) && i == 0 && starts_with_system) {
            mini_system(&w, format, msgs[i].content, tools, flags);
            continue;
        }
        marker(&w, open);
        text(&w, msgs[i].content);
        marker(&w, close);
    }
    if (flags & PHI_CHAT_ADD_ASSISTANT)
        marker(&w, is_mini(format) ? "<|assistant|>" : "<|im_start|>assistant<|im_sep|>");
    else if (is_mini(format))
        marker(&w, "<|endoftext|>"); /* the template's eos_token */
    if (w.rc && !err->code)
        phi_err_set(err, w.rc, "chat: the output failed (%d)", w.rc);
    return w.rc;
}

/* ---- tokens ------------------------------------------------------------- */

typedef struct encoder {
    const phi_tokenizer *t;
    const phi_mem *mem;
    int32_t *out;
    size_t cap, n;
    char *text;            /* message text waiting for the marker after it */
    size_t text_len, text_cap;
    int32_t last_special;  /* the special token the output ends with, or -1 */
    phi_err *err;
} encoder;

static int encode_into(encoder *e, const char *s, size_t len, bool special)
{
    size_t k;
    int rc = phi_tokenizer_encode(e->t, s, len, special, e->n < e->cap ? e->out + e->n : NULL,
                                  e->n < e->cap ? e->cap - e->n : 0, &k, e->err);
    if (rc != PHI_OK && rc != PHI_E_BUFFER_TOO_SMALL)
        return rc;
    phi_err_clear(e->err);
    e->n += k;
    return PHI_OK;
}

/* The special token that s[0..len) ends with, or -1. */
static int32_t trailing_special(const phi_tokenizer *t, const char *s, size_t len)
{
    for (size_t n = 1; n <= len; n++) {
        int32_t id = phi_tokenizer_find_special(t, s + len - n, n);
        if (id >= 0)
            return id;
    }
    return -1;
}

/* Write the held text, without the white space a neighbouring marker token
 * would have taken had the whole prompt been tokenized at once. */
static int flush_text(encoder *e, int32_t next_special)
{
    const char *s = e->text;
    size_t len = e->text_len;
    e->text_len = 0;
    if (!len)
        return PHI_OK;
    if (phi_tokenizer_attrs(e->t, e->last_special) & PHI_TOKEN_ATTR_RSTRIP) {
        size_t k = phi_leading_white_space(s, len);
        s += k, len -= k;
    }
    if (phi_tokenizer_attrs(e->t, next_special) & PHI_TOKEN_ATTR_LSTRIP)
        len -= phi_trailing_white_space(s, len);
    e->last_special = -1;
    return encode_into(e, s, len, false);
}

static int encode_segment(void *user, const char *s, size_t len, bool markers)
{
    encoder *e = user;
    if (!markers) {
        /* Consecutive text segments are one run of text, as in the prompt. */
        size_t need;
        if (phi_add_overflows(e->text_len, len, &need))
            return phi_err_set(e->err, PHI_E_NOMEM, "chat: prompt too long");
        if (need > e->text_cap) {
            size_t cap = need > 2 * e->text_cap ? need : 2 * e->text_cap;
            char *grown = phi_alloc(e->mem, cap);
            if (!grown)
                return phi_err_set(e->err, PHI_E_NOMEM, "chat: out of memory for %zu bytes", cap);
            if (e->text_len)
                memcpy(grown, e->text, e->text_len);
            phi_free(e->mem, e->text);
            e->text = grown, e->text_cap = cap;
        }
        memcpy(e->text + e->text_len, s, len);
        e->text_len = need;
        return PHI_OK;
    }
    int rc = flush_text(e, phi_tokenizer_special_prefix(e->t, s, len));
    if (rc != PHI_OK)
        return rc;
    if (phi_tokenizer_attrs(e->t, e->last_special) & PHI_TOKEN_ATTR_RSTRIP) {
        size_t k = phi_leading_white_space(s, len);
        s += k, len -= k;
    }
    e->last_special = trailing_special(e->t, s, len);
    return encode_into(e, s, len, true);
}

int phi_chat_encode(const phi_tokenizer *t, const phi_mem *mem, int format,
                    const phi_chat_message *msgs, size_t n, const char *tools, uint32_t flags,
                    int32_t *out, size_t cap, size_t *n_out, phi_err *err)
{
    encoder e = {t, mem, out, out ? cap : 0, 0, NULL, 0, 0, -1, err};
    int rc = phi_chat_render(format, msgs, n, tools, flags, encode_segment, &e, err);
    if (rc == PHI_OK)
        rc = flush_text(&e, -1);
    phi_free(mem, e.text);
    *n_out = e.n;
    if (rc == PHI_OK && e.n > e.cap)
        rc = phi_err_set(err, PHI_E_BUFFER_TOO_SMALL, "chat: %zu tokens do not fit in %zu", e.n,
                         e.cap);
    return rc;
}
