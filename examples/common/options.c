#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "phi4.h"

/* A prompt file larger than this is a mistake, not a prompt. */
#define PROMPT_FILE_MAX (64u << 20)

#define FOR_CLI 1u
#define FOR_SERVER 2u
#define FOR_BOTH (FOR_CLI | FOR_SERVER)

typedef enum value_kind {
    VALUE_NONE,   /* a switch: sets a bool */
    VALUE_STRING, /* const char * */
    VALUE_FILE,   /* a path whose text becomes the const char * */
    VALUE_INT,    /* int64_t within [min, max] */
    VALUE_FLOAT,  /* double within [min, max] */
    VALUE_CHOICE, /* int: the index of the word in value_name ("a|b") */
} value_kind;

typedef struct flag_spec {
    char short_name; /* 0: none */
    const char *long_name;
    const char *value_name;
    unsigned programs;
    value_kind kind;
    size_t offset;
    double min, max;
    const char *range; /* the valid values, as messages say them */
    const char *help;
} flag_spec;

#define OPT(field) offsetof(example_options, field)

static const flag_spec flag_specs[] = {
    {'m', "model", "PATH|ollama:NAME[:TAG]", FOR_BOTH, VALUE_STRING, OPT(model), 0, 0, NULL,
     "the model: a GGUF file, or a model Ollama has pulled (TAG defaults to latest)"},
    {'p', "prompt", "TEXT", FOR_CLI, VALUE_STRING, OPT(prompt), 0, 0, NULL,
     "answer this prompt (a user message) and exit"},
    {'f', "file", "PATH", FOR_CLI, VALUE_FILE, OPT(prompt), 0, 0, NULL,
     "the same, with the prompt read from a file"},
    {'s', "system", "TEXT", FOR_BOTH, VALUE_STRING, OPT(system), 0, 0, NULL,
     "a system message to start the conversation with"},
    {'i', "interactive", NULL, FOR_CLI, VALUE_NONE, OPT(interactive), 0, 0, NULL,
     "chat turn by turn on stdin (the default without -p or -f)"},
    {0, "raw", NULL, FOR_CLI, VALUE_NONE, OPT(raw), 0, 0, NULL,
     "the prompt is plain text to continue, not a chat message"},
    {'n', "n-predict", "N", FOR_BOTH, VALUE_INT, OPT(n_predict), -1, INT32_MAX,
     "-1 or a count >= 1", "tokens to generate at most; -1: until the turn ends (default -1)"},
    {'t', "threads", "N", FOR_BOTH, VALUE_INT, OPT(threads), 0, 256, "in [0, 256]",
     "threads to compute with; 0: one per CPU (default 0)"},
    {'c', "ctx-size", "N", FOR_BOTH, VALUE_INT, OPT(ctx_size), 0, INT32_MAX, ">= 0",
     "tokens of context; 0: the model's, at most 4096 (default 0)"},
    {0, "temp", "X", FOR_BOTH, VALUE_FLOAT, OPT(temp), 0, 1e9, ">= 0",
     "temperature; 0: always the most likely token (default 0.8)"},
    {0, "top-k", "N", FOR_BOTH, VALUE_INT, OPT(top_k), 0, INT32_MAX, ">= 0",
     "sample from the N most likely tokens; 0: off (default 40)"},
    {0, "top-p", "X", FOR_BOTH, VALUE_FLOAT, OPT(top_p), 1e-9, 1, "in (0, 1]",
     "sample from the likeliest tokens that make up X of the probability; 1: off (default 0.95)"},
    {0, "min-p", "X", FOR_BOTH, VALUE_FLOAT, OPT(min_p), 0, 1 - 1e-9, "in [0, 1)",
     "drop tokens less likely than X times the likeliest; 0: off (default 0.05)"},
    {0, "repeat-penalty", "X", FOR_BOTH, VALUE_FLOAT, OPT(repeat_penalty), 1e-9, 1e9, "> 0",
     "make the last 64 tokens less likely; 1: off (default 1)"},
    {0, "seed", "N", FOR_BOTH, VALUE_INT, OPT(seed), -1, 9.2e18, "-1 or >= 0",
     "random seed; -1: from the clock (default -1)"},
    {0, "think", "show|hide", FOR_BOTH, VALUE_CHOICE, OPT(think), 0, 0, NULL,
     "a reasoning model's thinking: shown (dimmed on a terminal) or left out (default show)"},
    {0, "no-mmap", NULL, FOR_BOTH, VALUE_NONE, OPT(no_mmap), 0, 0, NULL,
     "read the weights into memory instead of mapping the file"},
    {0, "kv-type", "f16|f32", FOR_BOTH, VALUE_CHOICE, OPT(kv_type), 0, 0, NULL,
     "what the KV cache stores: f16 takes half the memory (default f16)"},
    {0, "host", "ADDR", FOR_SERVER, VALUE_STRING, OPT(host), 0, 0, NULL,
     "address to listen on (default 127.0.0.1)"},
    {0, "port", "N", FOR_SERVER, VALUE_INT, OPT(port), 1, 65535, "in [1, 65535]",
     "port to listen on (default 8080)"},
    {0, "parallel", "N", FOR_SERVER, VALUE_INT, OPT(parallel), 1, 64, "in [1, 64]",
     "requests served at once, each by its own context (default 1)"},
    {0, "max-body", "BYTES", FOR_SERVER, VALUE_INT, OPT(max_body), 1, 1 << 30,
     "in [1, 1073741824]", "largest request body accepted (default 1048576)"},
    {'h', "help", NULL, FOR_BOTH, VALUE_NONE, OPT(help), 0, 0, NULL, "print this help and exit"},
    {0, "version", NULL, FOR_BOTH, VALUE_NONE, OPT(version), 0, 0, NULL,
     "print the versions of the program and the library and exit"},
};

#define N_FLAGS (sizeof flag_specs / sizeof flag_specs[0])

const char *example_program_name(example_program program)
{
    return program == EXAMPLE_PROGRAM_SERVER ? "phi4-server" : "phi4";
}

static unsigned program_bit(example_program program)
{
    return program == EXAMPLE_PROGRAM_SERVER ? FOR_SERVER : FOR_CLI;
}

void example_options_init(example_options *o)
{
    *o = (example_options){
        .n_predict = -1,
        .temp = 0.8,
        .top_p = 0.95,
        .min_p = 0.05,
        .repeat_penalty = 1.0,
        .top_k = 40,
        .seed = -1,
        .think = EXAMPLE_THINK_SHOW,
        .kv_type = EXAMPLE_KV_F16,
        .host = "127.0.0.1",
        .port = 8080,
        .parallel = 1,
        .max_body = 1 << 20,
    };
}

void example_options_free(example_options *o)
{
    free(o->prompt_file_text);
    o->prompt_file_text = NULL;
}

/* "-n/--n-predict" or "--temp", for messages. */
static const char *flag_label(const flag_spec *f, char *buf, size_t cap)
{
    if (f->short_name)
        snprintf(buf, cap, "-%c/--%s", f->short_name, f->long_name);
    else
        snprintf(buf, cap, "--%s", f->long_name);
    return buf;
}

/* The spec arg names ("-x", "--long" or "--long=value"); *inline_value
 * points after the '=' if there is one. */
static const flag_spec *find_flag(const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    if (arg[0] == '-' && arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < N_FLAGS; i++)
            if (strlen(flag_specs[i].long_name) == len &&
                !memcmp(flag_specs[i].long_name, name, len)) {
                *inline_value = eq ? eq + 1 : NULL;
                return &flag_specs[i];
            }
    } else if (arg[0] == '-' && arg[1] && !arg[2]) {
        for (size_t i = 0; i < N_FLAGS; i++)
            if (flag_specs[i].short_name == arg[1])
                return &flag_specs[i];
    }
    return NULL;
}

static int32_t parse_number(const flag_spec *f, const char *value, example_options *o,
                            phi_err *err)
{
    char label[64];
    flag_label(f, label, sizeof label);
    errno = 0;
    char *end = NULL;
    double as_double;
    if (f->kind == VALUE_INT) {
        long long v = strtoll(value, &end, 10);
        as_double = (double)v;
        if (!isspace((unsigned char)value[0]) && end != value && !*end && errno != ERANGE &&
            as_double >= f->min && as_double <= f->max) {
            *(int64_t *)((char *)o + f->offset) = v;
            return PHI_OK;
        }
        if (isspace((unsigned char)value[0]) || end == value || *end)
            return phi_err_set(err, PHI_E_INVALID_ARG, "%s: '%s' is not a whole number", label,
                               value);
    } else {
        as_double = strtod(value, &end);
        if (isspace((unsigned char)value[0]) || end == value || *end || !isfinite(as_double))
            return phi_err_set(err, PHI_E_INVALID_ARG, "%s: '%s' is not a number", label, value);
        if (as_double >= f->min && as_double <= f->max) {
            *(double *)((char *)o + f->offset) = as_double;
            return PHI_OK;
        }
    }
    return phi_err_set(err, PHI_E_INVALID_ARG, "%s: %s is out of range: give %s", label, value,
                       f->range);
}

/* value_name lists the words ("show|hide"); the index of the one given. */
static int32_t parse_choice(const flag_spec *f, const char *value, example_options *o,
                            phi_err *err)
{
    size_t len = strlen(value);
    const char *word = f->value_name;
    for (int index = 0;; index++) {
        const char *bar = strchr(word, '|');
        size_t word_len = bar ? (size_t)(bar - word) : strlen(word);
        if (word_len == len && !memcmp(word, value, len)) {
            *(int *)((char *)o + f->offset) = index;
            return PHI_OK;
        }
        if (!bar)
            break;
        word = bar + 1;
    }
    char label[64];
    return phi_err_set(err, PHI_E_INVALID_ARG, "%s: '%s' is not one of %s",
                       flag_label(f, label, sizeof label), value, f->value_name);
}

static int32_t store_value(const flag_spec *f, const char *value, example_options *o,
                           phi_err *err)
{
    char label[64];
    const char **text = (const char **)((char *)o + f->offset);
    switch (f->kind) {
    case VALUE_NONE:
        *(bool *)((char *)o + f->offset) = true;
        return PHI_OK;
    case VALUE_STRING:
    case VALUE_FILE:
        /* -p and -f fill the same field: two prompts are a mistake. */
        if (f->offset == OPT(prompt) && o->prompt)
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               "%s: the prompt is already given: use one -p or -f",
                               flag_label(f, label, sizeof label));
        if (f->kind == VALUE_STRING) {
            *text = value;
            return PHI_OK;
        } else {
            size_t len;
            int32_t rc = example_read_file(value, PROMPT_FILE_MAX, &o->prompt_file_text, &len, err);
            if (rc != PHI_OK) {
                phi_err_prefix(err, "%s", flag_label(f, label, sizeof label));
                return rc;
            }
            *text = o->prompt_file_text;
            return PHI_OK;
        }
    case VALUE_INT:
    case VALUE_FLOAT:
        return parse_number(f, value, o, err);
    case VALUE_CHOICE:
        return parse_choice(f, value, o, err);
    }
    return phi_err_set(err, PHI_E_INVALID_ARG, "flag table: unknown kind of value");
}

/* What one program requires of the flags together. */
static int32_t check_combination(const example_options *o, example_program program,
                                 phi_err *err)
{
    if (o->help || o->version)
        return PHI_OK;
    if (!o->model)
        return phi_err_set(err, PHI_E_INVALID_ARG,
                           "no model: give -m PATH.gguf or -m ollama:NAME[:TAG]");
    if (o->n_predict == 0)
        return phi_err_set(err, PHI_E_INVALID_ARG,
                           "-n/--n-predict: 0 tokens is nothing to generate: give -1 or a count "
                           ">= 1");
    if (program == EXAMPLE_PROGRAM_CLI && o->raw && !o->prompt)
        return phi_err_set(err, PHI_E_INVALID_ARG, "--raw needs the text to continue (-p or -f)");
    if (program == EXAMPLE_PROGRAM_CLI && o->raw && o->interactive)
        return phi_err_set(err, PHI_E_INVALID_ARG,
                           "--raw continues one text: it does not go with -i/--interactive");
    if (program == EXAMPLE_PROGRAM_SERVER && !*o->host)
        return phi_err_set(err, PHI_E_INVALID_ARG, "--host: the address is empty");
    return PHI_OK;
}

int32_t example_options_parse(example_options *o, example_program program, int argc,
                              char **argv, phi_err *err)
{
    const char *name = example_program_name(program);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        const flag_spec *f = find_flag(arg, &value);
        char label[64];
        if (!f)
            return phi_err_set(err, PHI_E_INVALID_ARG,
                               arg[0] == '-' ? "unknown option %s (%s --help lists them)"
                                             : "unexpected argument '%s' (%s --help lists the "
                                               "options)",
                               arg, name);
        flag_label(f, label, sizeof label);
        if (!(f->programs & program_bit(program)))
            return phi_err_set(err, PHI_E_INVALID_ARG, "%s is an option of %s, not of %s", label,
                               f->programs & FOR_CLI ? "phi4" : "phi4-server", name);
        if (f->kind == VALUE_NONE && value)
            return phi_err_set(err, PHI_E_INVALID_ARG, "%s takes no value", label);
        if (f->kind != VALUE_NONE && !value) {
            if (i + 1 == argc)
                return phi_err_set(err, PHI_E_INVALID_ARG, "%s needs a value (%s)", label,
                                   f->value_name);
            value = argv[++i];
        }
        int32_t rc = store_value(f, value, o, err);
        if (rc != PHI_OK)
            return rc;
    }
    return check_combination(o, program, err);
}

void example_options_usage(example_program program, FILE *out)
{
    if (program == EXAMPLE_PROGRAM_SERVER)
        fprintf(out, "usage: phi4-server -m MODEL [--host ADDR] [--port N] [options]\n"
                     "Serve a Phi-4 model over HTTP.\n");
    else
        fprintf(out,
                "usage: phi4 -m MODEL [-p PROMPT | -f FILE] [options]\n"
                "Chat with a Phi-4 model. With a prompt, print the answer and exit; without\n"
                "one, chat turn by turn (/help in the chat lists its commands).\n");
    fprintf(out, "\noptions:\n");
    for (size_t i = 0; i < N_FLAGS; i++) {
        const flag_spec *f = &flag_specs[i];
        if (!(f->programs & program_bit(program)))
            continue;
        char left[80];
        int n = f->short_name ? snprintf(left, sizeof left, "  -%c, --%s", f->short_name,
                                         f->long_name)
                              : snprintf(left, sizeof left, "      --%s", f->long_name);
        if (f->value_name)
            n += snprintf(left + n, sizeof left - (size_t)n, " %s", f->value_name);
        /* A long left column puts the help text on a line of its own. */
        if (n > 28)
            fprintf(out, "%s\n%30s%s\n", left, "", f->help);
        else
            fprintf(out, "%-30s%s\n", left, f->help);
    }
}
