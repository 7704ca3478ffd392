/* phi4: chat with a Phi-4 model from the command line.
 *
 *   phi4 -m model.gguf -p "Why is the sky blue?"    one answer, then exit
 *   phi4 -m ollama:phi4-mini                         a chat, turn by turn on stdin
 *
 * phi4 --help lists the options (examples/common/options.c). In a chat the
 * whole conversation is resent each turn; the library evaluates only what is
 * new. Ctrl-C stops an answer; at the prompt, or twice, it leaves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "options.h"
#include "phi4.h"
#include "render.h"

#define PROGRAM "phi4"

/* Ctrl-C: during an answer (or the prompt's evaluation) `answering` is its
 * context, and the first Ctrl-C stops it; a second one, or one at the
 * prompt, leaves. The handler is installed with SA_RESTART, so a Ctrl-C
 * never breaks a read or write half-way. */
static phi_ctx *volatile answering;
static volatile sig_atomic_t stop_requested;
static const text_render *volatile rendering; /* the answer's, while it is written */
static int stdout_is_terminal;

static void on_sigint(int sig)
{
    (void)sig;
    phi_ctx *ctx = answering;
    if (ctx && !stop_requested) {
        stop_requested = 1;
        phi_interrupt(ctx);
        return;
    }
    /* Leave the terminal unstyled; at the prompt, on a fresh line. Nothing
     * else is written from an answer: the terminal may be stopped (Ctrl-S),
     * and a write would wait for it. */
    static const char reset[] = "\033[0m", newline[] = "\n";
    const text_render *r = rendering;
    bool styled = ctx && r && r->in_thinking && r->terminal;
    if ((styled && write(STDOUT_FILENO, reset, sizeof reset - 1) < 0) ||
        (!ctx && stdout_is_terminal && write(STDOUT_FILENO, newline, 1) < 0))
        _exit(1);
    _exit(ctx ? 1 : 0);
}

static void begin_answering(phi_ctx *ctx)
{
    stop_requested = 0;
    answering = ctx;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double per_second(int64_t n, double seconds)
{
    return seconds > 0 ? (double)n / seconds : 0.0;
}

/* A growing text buffer: the answer, kept for the conversation. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf;

static int text_append(text_buf *b, const char *text, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return -1;
        b->data = grown, b->cap = cap;
    }
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

/* The sequence's tokens (for counting what a turn reused); NULL if none or
 * out of memory. */
static phi_token *sequence_tokens(phi_ctx *ctx, size_t *n)
{
    *n = (size_t)phi_kv_pos(ctx);
    phi_token *tokens = *n ? malloc(*n * sizeof *tokens) : NULL;
    if (tokens && phi_kv_tokens(ctx, tokens, *n, n) != PHI_OK) {
        free(tokens);
        tokens = NULL;
    }
    if (!tokens)
        *n = 0;
    return tokens;
}

/* How a turn's prompt went, for the speed line. */
typedef struct turn_stats {
    int64_t prompt_new, prompt_reused;
    double prompt_seconds;
} turn_stats;

/* One answer, its prompt already begun: streamed to stdout, its answer
 * channel kept in answer, the speeds reported on stderr. */
static int32_t stream_answer(phi_ctx *ctx, const example_options *o, const turn_stats *stats,
                             text_buf *answer)
{
    text_render render;
    text_render_init(&render, stdout, o->think == EXAMPLE_THINK_HIDE, stdout_is_terminal);
    int64_t start_pos = phi_kv_pos(ctx);
    double start = now_seconds();
    int32_t rc, channel;
    const char *text;
    size_t len;
    rendering = &render;
    begin_answering(ctx);
    while ((rc = phi_generate_next_text(ctx, &channel, &text, &len)) == PHI_OK) {
        text_render_piece(&render, channel, text, len);
        if (channel == PHI_CHANNEL_ANSWER && text_append(answer, text, len) != 0) {
            rc = PHI_E_NOMEM;
            break;
        }
    }
    answering = NULL;
    rendering = NULL;
    double seconds = now_seconds() - start;
    text_render_end(&render);
    int64_t generated = phi_kv_pos(ctx) - start_pos;
    int64_t n_ctx = 0;
    phi_info_int(ctx, PHI_INFO_N_CTX, &n_ctx);
    if (rc == PHI_E_INTERRUPTED)
        printf(" [stopped]");
    printf("\n");
    fflush(stdout);
    fprintf(stderr,
            PROGRAM ": prompt %lld tokens (%lld reused), %.1f tok/s; answer %lld tokens, %.1f "
                    "tok/s\n",
            (long long)stats->prompt_new, (long long)stats->prompt_reused,
            per_second(stats->prompt_new, stats->prompt_seconds), (long long)generated,
            per_second(generated, seconds));
    if (rc == PHI_DONE && phi_kv_pos(ctx) >= n_ctx)
        fprintf(stderr, PROGRAM ": the context is full (%lld tokens): /reset starts a new "
                        "conversation, -c sets a larger context\n",
                (long long)n_ctx);
    phi_generate_end(ctx);
    return rc == PHI_DONE ? PHI_OK : rc;
}

/* Begin a chat answer to the conversation and stream it. */
static int32_t answer_chat(phi_ctx *ctx, const example_options *o, const phi_chat_message *msgs,
                           size_t n, text_buf *answer)
{
    size_t n_before, n_after;
    phi_token *before = sequence_tokens(ctx, &n_before);
    turn_stats stats = {0, 0, 0};
    double start = now_seconds();
    begin_answering(ctx);
    int32_t rc = phi_generate_begin_chat(ctx, msgs, n, NULL, 0);
    answering = NULL;
    stats.prompt_seconds = now_seconds() - start;
    if (rc == PHI_E_INTERRUPTED)
        printf("[stopped]\n");
    if (rc == PHI_OK) {
        phi_token *after = sequence_tokens(ctx, &n_after);
        size_t same = 0;
        while (same < n_before && same < n_after && before[same] == after[same])
            same++;
        stats.prompt_reused = (int64_t)same;
        stats.prompt_new = (int64_t)(n_after - same);
        free(after);
        rc = stream_answer(ctx, o, &stats, answer);
    }
    free(before);
    return rc;
}

static int32_t answer_raw(phi_ctx *ctx, const example_options *o, text_buf *answer)
{
    size_t n;
    const char *prompt = o->prompt;
    int32_t rc = phi_tokenize(ctx, prompt, strlen(prompt), PHI_TOKENIZE_ADD_BOS, NULL, 0, &n);
    phi_token *tokens = rc == PHI_E_BUFFER_TOO_SMALL ? malloc((n ? n : 1) * sizeof *tokens) : NULL;
    if (rc == PHI_E_BUFFER_TOO_SMALL)
        rc = tokens ? phi_tokenize(ctx, prompt, strlen(prompt), PHI_TOKENIZE_ADD_BOS, tokens, n, &n)
                    : PHI_E_NOMEM;
    turn_stats stats = {(int64_t)n, 0, 0};
    if (rc == PHI_OK) {
        double start = now_seconds();
        begin_answering(ctx);
        rc = phi_generate_begin(ctx, tokens, n);
        answering = NULL;
        stats.prompt_seconds = now_seconds() - start;
    }
    free(tokens);
    return rc == PHI_OK ? stream_answer(ctx, o, &stats, answer) : rc;
}

static const char *error_text(phi_ctx *ctx, int32_t rc)
{
    if (rc == PHI_E_NOMEM)
        return "out of memory";
    return *phi_errmsg(ctx) ? phi_errmsg(ctx) : phi_strerror(rc);
}

static int one_shot(phi_ctx *ctx, const example_options *o)
{
    text_buf answer = {NULL, 0, 0};
    int32_t rc;
    if (o->raw) {
        rc = answer_raw(ctx, o, &answer);
    } else {
        phi_chat_message msgs[2] = {{"system", o->system}, {"user", o->prompt}};
        rc = o->system ? answer_chat(ctx, o, msgs, 2, &answer)
                       : answer_chat(ctx, o, msgs + 1, 1, &answer);
    }
    free(answer.data);
    if (rc != PHI_OK)
        fprintf(stderr, PROGRAM ": %s\n", rc == PHI_E_INTERRUPTED ? "stopped" : error_text(ctx, rc));
    return rc == PHI_OK ? 0 : 1;
}

/* ---- the interactive chat ---------------------------------------------- */

typedef struct conversation {
    phi_chat_message *msgs;
    size_t n, cap;
    size_t n_kept; /* the system message, which /reset keeps */
} conversation;

static int conversation_add(conversation *c, const char *role, const char *content)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        phi_chat_message *grown = realloc(c->msgs, cap * sizeof *grown);
        if (!grown)
            return -1;
        c->msgs = grown, c->cap = cap;
    }
    char *copy = strdup(content);
    if (!copy)
        return -1;
    c->msgs[c->n++] = (phi_chat_message){role, copy};
    return 0;
}

static void conversation_truncate(conversation *c, size_t n)
{
    while (c->n > n)
        free((char *)c->msgs[--c->n].content);
}

static const char chat_help[] =
    "  /reset  start a new conversation (the system message stays)\n"
    "  /help   this list\n"
    "  /exit   leave (so do Ctrl-D, and Ctrl-C at the prompt)\n"
    "  Ctrl-C during an answer stops it.\n";

/* One user turn: its answer joins the conversation, or the turn is undone. */
static void chat_turn(phi_ctx *ctx, const example_options *o, conversation *c, const char *line)
{
    size_t n_before = c->n;
    text_buf answer = {NULL, 0, 0};
    if (conversation_add(c, "user", line) != 0) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return;
    }
    int32_t rc = answer_chat(ctx, o, c->msgs, c->n, &answer);
    /* A stopped answer stays: it is what the user saw. */
    if (rc == PHI_OK || (rc == PHI_E_INTERRUPTED && answer.len > 0)) {
        if (conversation_add(c, "assistant", answer.data ? answer.data : "") != 0) {
            fprintf(stderr, PROGRAM ": out of memory\n");
            conversation_truncate(c, n_before);
        }
    } else {
        /* Stopped before any answer: the turn never happened. */
        conversation_truncate(c, n_before);
        if (rc == PHI_E_CONTEXT_FULL)
            fprintf(stderr, PROGRAM ": %s: /reset starts a new conversation\n",
                    phi_errmsg(ctx));
        else if (rc != PHI_E_INTERRUPTED)
            fprintf(stderr, PROGRAM ": %s\n", error_text(ctx, rc));
    }
    free(answer.data);
}

static int chat(phi_ctx *ctx, const example_options *o)
{
    conversation c = {NULL, 0, 0, 0};
    if (o->system && conversation_add(&c, "system", o->system) != 0) {
        fprintf(stderr, PROGRAM ": out of memory\n");
        return 1;
    }
    c.n_kept = c.n;
    bool terminal = isatty(STDIN_FILENO);
    fprintf(stderr, PROGRAM ": chatting with %s; /help lists the commands\n", o->model);
    if (o->prompt)
        chat_turn(ctx, o, &c, o->prompt);
    char *line = NULL;
    size_t line_cap = 0;
    for (;;) {
        if (terminal) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        ssize_t len = getline(&line, &line_cap, stdin);
        if (len < 0) {
            if (terminal)
                fputc('\n', stdout);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit"))
            break;
        if (!strcmp(line, "/help")) {
            fputs(chat_help, stdout);
        } else if (!strcmp(line, "/reset")) {
            conversation_truncate(&c, c.n_kept);
            phi_kv_clear(ctx);
            fprintf(stderr, PROGRAM ": new conversation\n");
        } else if (line[0] == '/') {
            fprintf(stderr, PROGRAM ": unknown command %s; /help lists them\n", line);
        } else {
            chat_turn(ctx, o, &c, line);
        }
    }
    free(line);
    conversation_truncate(&c, 0);
    free(c.msgs);
    return 0;
}

int main(int argc, char **argv)
{
    example_options o;
    phi_err err = {0, ""};
    example_options_init(&o);
    if (example_options_parse(&o, EXAMPLE_PROGRAM_CLI, argc, argv, &err) != PHI_OK) {
        fprintf(stderr, PROGRAM ": %s\n", err.msg);
        example_options_free(&o);
        return 1;
    }
    if (o.help || o.version) {
        if (o.help)
            example_options_usage(EXAMPLE_PROGRAM_CLI, stdout);
        else
            printf(PROGRAM " %s (libphi4 %s, ABI %d)\n", PHI4_VERSION_STRING,
                   phi_version_string(), (int)phi_abi_version());
        example_options_free(&o);
        return 0;
    }
    phi_ctx *ctx;
    if (example_open_model(&o, EXAMPLE_PROGRAM_CLI, &ctx, &err) != PHI_OK) {
        fprintf(stderr, PROGRAM ": %s\n", err.msg);
        example_options_free(&o);
        return 1;
    }
    stdout_is_terminal = isatty(STDOUT_FILENO);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    int status = o.prompt && !o.interactive ? one_shot(ctx, &o) : chat(ctx, &o);
    phi_ctx_free(ctx);
    example_options_free(&o);
    return status;
}
