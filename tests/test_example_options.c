/* The examples' shared flags (examples/common/options.c) and Ollama model
 * resolution (examples/common/ollama.c): every flag of each program, values
 * that must be refused and the messages that say why, and a manifest tree
 * written here in a temporary directory. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ollama.h"
#include "options.h"

#define MAX_ARGS 64

static example_options opts;
static phi_err err;

/* Parse the NULL-terminated arguments (after the program name) into opts. */
static int32_t parse(example_program program, ...)
{
    char *argv[MAX_ARGS] = {"prog"};
    int argc = 1;
    va_list ap;
    va_start(ap, program);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < MAX_ARGS;)
        argv[argc++] = a;
    va_end(ap);
    example_options_free(&opts);
    example_options_init(&opts);
    err.msg[0] = '\0';
    return example_options_parse(&opts, program, argc, argv, &err);
}

static int has(const char *text, const char *part)
{
    if (strstr(text, part))
        return 1;
    fprintf(stderr, "  expected \"%s\" in: %s\n", part, text);
    return 0;
}

/* A refused command line: PHI_E_INVALID_ARG and a message holding part. */
#define CHECK_REFUSED(part, ...)                                              \
    do {                                                                      \
        CHECK_EQ(parse(__VA_ARGS__, (char *)NULL), PHI_E_INVALID_ARG);        \
        CHECK(has(err.msg, part));                                            \
    } while (0)

static void test_defaults(void)
{
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x.gguf", (char *)NULL), PHI_OK);
    CHECK(!strcmp(opts.model, "x.gguf"));
    CHECK(opts.prompt == NULL && opts.system == NULL);
    CHECK_EQ(opts.n_predict, -1);
    CHECK_EQ(opts.threads, 0);
    CHECK_EQ(opts.ctx_size, 0);
    CHECK(opts.temp == 0.8 && opts.top_p == 0.95 && opts.min_p == 0.05);
    CHECK(opts.repeat_penalty == 1.0);
    CHECK_EQ(opts.top_k, 40);
    CHECK_EQ(opts.seed, -1);
    CHECK_EQ(opts.think, EXAMPLE_THINK_SHOW);
    CHECK_EQ(opts.kv_type, EXAMPLE_KV_F16);
    CHECK(!opts.no_mmap && !opts.help && !opts.version && !opts.raw && !opts.interactive);
    CHECK(!strcmp(opts.host, "127.0.0.1"));
    CHECK_EQ(opts.port, 8080);
    CHECK_EQ(opts.parallel, 1);
    CHECK_EQ(opts.max_body, 1 << 20);
}

static void test_every_flag(void)
{
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "a.gguf", "-p", "hi", "-s", "be brief", "-n", "7",
                   "-t", "3", "-c", "512", "--temp", "0.25", "--top-k", "5", "--top-p", "0.5",
                   "--min-p", "0.125", "--repeat-penalty", "1.5", "--seed", "42", "--think",
                   "hide", "--no-mmap", "--kv-type", "f32", "--raw", (char *)NULL),
             PHI_OK);
    CHECK(!strcmp(opts.model, "a.gguf") && !strcmp(opts.prompt, "hi"));
    CHECK(!strcmp(opts.system, "be brief"));
    CHECK_EQ(opts.n_predict, 7);
    CHECK_EQ(opts.threads, 3);
    CHECK_EQ(opts.ctx_size, 512);
    CHECK(opts.temp == 0.25 && opts.top_p == 0.5 && opts.min_p == 0.125);
    CHECK(opts.repeat_penalty == 1.5);
    CHECK_EQ(opts.top_k, 5);
    CHECK_EQ(opts.seed, 42);
    CHECK_EQ(opts.think, EXAMPLE_THINK_HIDE);
    CHECK_EQ(opts.kv_type, EXAMPLE_KV_F32);
    CHECK(opts.no_mmap && opts.raw);

    /* Long names, and --name=value. */
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "--model=b.gguf", "--prompt", "p", "--system=s",
                   "--n-predict=-1", "--threads=0", "--ctx-size", "64", "--think=show",
                   "--kv-type=f16", "--interactive", (char *)NULL),
             PHI_OK);
    CHECK(!strcmp(opts.model, "b.gguf") && !strcmp(opts.prompt, "p") && !strcmp(opts.system, "s"));
    CHECK_EQ(opts.n_predict, -1);
    CHECK_EQ(opts.ctx_size, 64);
    CHECK_EQ(opts.think, EXAMPLE_THINK_SHOW);
    CHECK(opts.interactive);
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x", "-i", (char *)NULL), PHI_OK);
    CHECK(opts.interactive);

    CHECK_EQ(parse(EXAMPLE_PROGRAM_SERVER, "-m", "ollama:phi4", "--host", "0.0.0.0", "--port",
                   "11435", "--parallel", "4", "--max-body", "4096", "-s", "sys", "--temp", "0",
                   (char *)NULL),
             PHI_OK);
    CHECK(!strcmp(opts.host, "0.0.0.0"));
    CHECK_EQ(opts.port, 11435);
    CHECK_EQ(opts.parallel, 4);
    CHECK_EQ(opts.max_body, 4096);
    CHECK(opts.temp == 0.0);

    /* Help and version need no model; the caller prints. */
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-h", (char *)NULL), PHI_OK);
    CHECK(opts.help);
    CHECK_EQ(parse(EXAMPLE_PROGRAM_SERVER, "--help", (char *)NULL), PHI_OK);
    CHECK(opts.help);
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "--version", (char *)NULL), PHI_OK);
    CHECK(opts.version);
}

static void test_bad_numbers(void)
{
    example_program cli = EXAMPLE_PROGRAM_CLI;
    CHECK_REFUSED("-n/--n-predict: 'abc' is not a whole number", cli, "-m", "x", "-n", "abc");
    CHECK_REFUSED("-n/--n-predict: '5x' is not a whole number", cli, "-m", "x", "-n", "5x");
    CHECK_REFUSED("-n/--n-predict: '' is not a whole number", cli, "-m", "x", "-n", "");
    CHECK_REFUSED("-n/--n-predict: '1.5' is not a whole number", cli, "-m", "x", "-n", "1.5");
    CHECK_REFUSED("-t/--threads: ' 3' is not a whole number", cli, "-m", "x", "-t", " 3");
    CHECK_REFUSED("-n/--n-predict: 99999999999999999999 is out of range", cli, "-m", "x", "-n",
                  "99999999999999999999");
    CHECK_REFUSED("-n/--n-predict: -2 is out of range: give -1 or a count >= 1", cli, "-m", "x",
                  "-n", "-2");
    CHECK_REFUSED("-n/--n-predict: 0 tokens", cli, "-m", "x", "-n", "0");
    CHECK_REFUSED("-t/--threads: 257 is out of range: give in [0, 256]", cli, "-m", "x", "-t",
                  "257");
    CHECK_REFUSED("-c/--ctx-size: -1 is out of range", cli, "-m", "x", "-c", "-1");
    CHECK_REFUSED("--temp: '0.5x' is not a number", cli, "-m", "x", "--temp", "0.5x");
    CHECK_REFUSED("--temp: 'nan' is not a number", cli, "-m", "x", "--temp", "nan");
    CHECK_REFUSED("--temp: 'inf' is not a number", cli, "-m", "x", "--temp", "inf");
    CHECK_REFUSED("--temp: -0.1 is out of range: give >= 0", cli, "-m", "x", "--temp", "-0.1");
    CHECK_REFUSED("--top-k: -1 is out of range", cli, "-m", "x", "--top-k", "-1");
    CHECK_REFUSED("--top-p: 0 is out of range: give in (0, 1]", cli, "-m", "x", "--top-p", "0");
    CHECK_REFUSED("--top-p: 1.01 is out of range", cli, "-m", "x", "--top-p", "1.01");
    CHECK_REFUSED("--min-p: 1 is out of range: give in [0, 1)", cli, "-m", "x", "--min-p", "1");
    CHECK_REFUSED("--repeat-penalty: 0 is out of range: give > 0", cli, "-m", "x",
                  "--repeat-penalty", "0");
    CHECK_REFUSED("--seed: -2 is out of range", cli, "-m", "x", "--seed", "-2");
    CHECK_REFUSED("--seed: 'x1' is not a whole number", cli, "-m", "x", "--seed", "x1");
    example_program server = EXAMPLE_PROGRAM_SERVER;
    CHECK_REFUSED("--port: 0 is out of range: give in [1, 65535]", server, "-m", "x", "--port",
                  "0");
    CHECK_REFUSED("--port: 65536 is out of range", server, "-m", "x", "--port", "65536");
    CHECK_REFUSED("--parallel: 0 is out of range", server, "-m", "x", "--parallel", "0");
    CHECK_REFUSED("--max-body: '1k' is not a whole number", server, "-m", "x", "--max-body",
                  "1k");
    /* The bounds themselves are accepted. */
    CHECK_EQ(parse(cli, "-m", "x", "-t", "256", "--top-p", "1", "--min-p", "0", "--temp", "0",
                   "--seed", "-1", (char *)NULL),
             PHI_OK);
    CHECK_EQ(parse(server, "-m", "x", "--port", "65535", "--parallel", "64", (char *)NULL), PHI_OK);
}

static void test_bad_flags(void)
{
    example_program cli = EXAMPLE_PROGRAM_CLI, server = EXAMPLE_PROGRAM_SERVER;
    CHECK_REFUSED("unknown option --bogus (phi4 --help lists them)", cli, "-m", "x", "--bogus");
    CHECK_REFUSED("unknown option -x", cli, "-m", "x", "-x");
    CHECK_REFUSED("unknown option -n5", cli, "-m", "x", "-n5");
    CHECK_REFUSED("unknown option --bogus (phi4-server --help", server, "--bogus");
    CHECK_REFUSED("unexpected argument 'model.gguf'", cli, "model.gguf");
    CHECK_REFUSED("-m/--model needs a value", cli, "-m");
    CHECK_REFUSED("--temp needs a value (X)", cli, "-m", "x", "--temp");
    CHECK_REFUSED("--no-mmap takes no value", cli, "-m", "x", "--no-mmap=1");
    CHECK_REFUSED("--think: 'maybe' is not one of show|hide", cli, "-m", "x", "--think", "maybe");
    CHECK_REFUSED("--kv-type: 'q8' is not one of f16|f32", cli, "-m", "x", "--kv-type", "q8");
    CHECK_REFUSED("no model: give -m", cli, "-p", "hi");
    CHECK_REFUSED("no model", server, "--port", "80");
    CHECK_REFUSED("--raw needs the text to continue", cli, "-m", "x", "--raw");
    CHECK_REFUSED("--raw continues one text", cli, "-m", "x", "--raw", "-p", "a", "-i");
    CHECK_REFUSED("--host: the address is empty", server, "-m", "x", "--host", "");

    /* Each program refuses the other's flags, saying whose they are. */
    CHECK_REFUSED("--port is an option of phi4-server, not of phi4", cli, "-m", "x", "--port",
                  "1");
    CHECK_REFUSED("--host is an option of phi4-server, not of phi4", cli, "-m", "x", "--host",
                  "h");
    CHECK_REFUSED("--parallel is an option of phi4-server", cli, "-m", "x", "--parallel", "2");
    CHECK_REFUSED("--max-body is an option of phi4-server", cli, "-m", "x", "--max-body", "2");
    CHECK_REFUSED("-p/--prompt is an option of phi4, not of phi4-server", server, "-m", "x", "-p",
                  "hi");
    CHECK_REFUSED("-f/--file is an option of phi4, not of phi4-server", server, "-m", "x", "-f",
                  "a");
    CHECK_REFUSED("--raw is an option of phi4, not of phi4-server", server, "-m", "x", "--raw");
    CHECK_REFUSED("-i/--interactive is an option of phi4", server, "-m", "x", "-i");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_prompt_file(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/prompt.txt", dir);
    write_file(path, "Why is the sky blue?\nAnswer briefly.");
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x", "-f", path, (char *)NULL), PHI_OK);
    CHECK(opts.prompt && !strcmp(opts.prompt, "Why is the sky blue?\nAnswer briefly."));
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x", "--file", path, "--raw", (char *)NULL), PHI_OK);
    CHECK(opts.raw && opts.prompt == opts.prompt_file_text);

    CHECK_REFUSED("the prompt is already given", EXAMPLE_PROGRAM_CLI, "-m", "x", "-p", "a", "-f",
                  path);
    CHECK_REFUSED("the prompt is already given", EXAMPLE_PROGRAM_CLI, "-m", "x", "-f", path, "-f",
                  path);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such-prompt.txt", dir);
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x", "-f", missing, (char *)NULL), PHI_E_IO);
    CHECK(has(err.msg, "-f/--file: cannot open ") && has(err.msg, "no-such-prompt.txt"));
    CHECK_EQ(parse(EXAMPLE_PROGRAM_CLI, "-m", "x", "-f", dir, (char *)NULL), PHI_E_IO);
    CHECK(has(err.msg, "is not a regular file"));
}

/* Every flag of a program in its usage text, none of the other's. */
static void test_usage(void)
{
    static const char *both[] = {"--model", "--system", "--n-predict", "--threads", "--ctx-size",
                                 "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                 "--seed", "--think show|hide", "--no-mmap", "--kv-type f16|f32",
                                 "--help", "--version", "-m, --model PATH|ollama:NAME[:TAG]"};
    static const char *cli_only[] = {"-p, --prompt", "-f, --file", "--raw", "-i, --interactive"};
    static const char *server_only[] = {"--host", "--port", "--parallel", "--max-body"};
    for (int program = 0; program < 2; program++) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        CHECK(out != NULL);
        if (!out)
            continue;
        example_options_usage((example_program)program, out);
        fclose(out);
        CHECK(has(text, program == EXAMPLE_PROGRAM_CLI ? "usage: phi4 " : "usage: phi4-server "));
        for (size_t i = 0; i < sizeof both / sizeof both[0]; i++)
            CHECK(has(text, both[i]));
        for (size_t i = 0; i < 4; i++) {
            const char *mine = program == EXAMPLE_PROGRAM_CLI ? cli_only[i] : server_only[i];
            const char *theirs = program == EXAMPLE_PROGRAM_CLI ? server_only[i] : cli_only[i];
            CHECK(has(text, mine));
            CHECK(strstr(text, theirs) == NULL);
        }
        CHECK(has(text, "(default 0.8)"));
        free(text);
    }
}

/* ---- Ollama ---- */

#define HEX_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static char *manifest_json(const char *layers)
{
    static char text[4096];
    snprintf(text, sizeof text,
             "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
             "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
             "\"digest\":\"sha256:" HEX_B "\",\"size\":10},\"layers\":[%s]}",
             layers);
    return text;
}

#define LAYER(type, digest) "{\"mediaType\":\"" type "\",\"digest\":\"" digest "\",\"size\":1}"
#define MODEL_LAYER(digest) LAYER("application/vnd.ollama.image.model", digest)
#define TEMPLATE_LAYER LAYER("application/vnd.ollama.image.template", "sha256:" HEX_B)

/* Write models/manifests/<rel> holding layers. */
static void write_manifest(const char *models, const char *rel, const char *layers)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/manifests/%s", models, rel);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    make_dirs(dir);
    write_file(path, layers ? manifest_json(layers) : "{\"layers\": [");
}

static int32_t resolve(const char *ref, char **path)
{
    err.msg[0] = '\0';
    return example_ollama_resolve(ref, path, &err);
}

/* ref resolves to models/blobs/sha256-<hex>. */
static void check_resolves(const char *ref, const char *models, const char *hex)
{
    char *path = NULL, want[1024];
    snprintf(want, sizeof want, "%s/blobs/sha256-%s", models, hex);
    CHECK_EQ(resolve(ref, &path), PHI_OK);
    if (!path || strcmp(path, want))
        fprintf(stderr, "  %s: got %s, want %s (%s)\n", ref, path ? path : "nothing", want,
                err.msg);
    CHECK(path && !strcmp(path, want));
    free(path);
}

static void check_resolve_fails(const char *ref, int32_t code, const char *part)
{
    char *path = (char *)"unchanged";
    CHECK_EQ(resolve(ref, &path), code);
    CHECK(path == NULL);
    CHECK(has(err.msg, part));
}

static void test_ollama(const char *dir)
{
    CHECK(example_is_ollama_ref("ollama:phi4"));
    CHECK(!example_is_ollama_ref("phi4.gguf"));
    CHECK(!example_is_ollama_ref("ollama"));

    char models[512], blobs[600], blob[700];
    snprintf(models, sizeof models, "%s/models", dir);
    snprintf(blobs, sizeof blobs, "%s/blobs", models);
    make_dirs(blobs);
    snprintf(blob, sizeof blob, "%s/sha256-" HEX_A, blobs);
    write_file(blob, "GGUF");
    snprintf(blob, sizeof blob, "%s/sha256-" HEX_B, blobs);
    write_file(blob, "GGUF");

    const char *layers_a = TEMPLATE_LAYER "," MODEL_LAYER("sha256:" HEX_A);
    const char *layers_b = MODEL_LAYER("sha256:" HEX_B) "," TEMPLATE_LAYER;
    write_manifest(models, "registry.ollama.ai/library/phi4/latest", layers_a);
    write_manifest(models, "registry.ollama.ai/library/phi4/mini", layers_b);
    write_manifest(models, "registry.ollama.ai/someone/phi4/q4", layers_b);
    write_manifest(models, "example.com:5000/team/phi4-x/v1.2", layers_a);
    write_manifest(models, "registry.ollama.ai/library/nolayer/latest", TEMPLATE_LAYER);
    write_manifest(models, "registry.ollama.ai/library/broken/latest", NULL);
    write_manifest(models, "registry.ollama.ai/library/shortdigest/latest",
                   MODEL_LAYER("sha256:abc"));
    write_manifest(models, "registry.ollama.ai/library/sneaky/latest",
                   MODEL_LAYER("sha256:../../../../etc/passwd/" HEX_A));
    write_manifest(models, "registry.ollama.ai/library/md5/latest",
                   MODEL_LAYER("md5:" HEX_A));
    write_manifest(models, "registry.ollama.ai/library/nodigest/latest",
                   "{\"mediaType\":\"application/vnd.ollama.image.model\",\"size\":1}");
    write_manifest(models, "registry.ollama.ai/library/noblob/latest",
                   MODEL_LAYER("sha256:" "1111111111111111111111111111111111111111111111111111111111111111"));

    setenv("OLLAMA_MODELS", models, 1);
    setenv("HOME", "/nonexistent-home", 1);
    check_resolves("phi4", models, HEX_A);
    check_resolves("phi4:latest", models, HEX_A);
    check_resolves("phi4:mini", models, HEX_B);
    check_resolves("library/phi4:mini", models, HEX_B);
    check_resolves("registry.ollama.ai/library/phi4", models, HEX_A);
    check_resolves("someone/phi4:q4", models, HEX_B);
    check_resolves("example.com:5000/team/phi4-x:v1.2", models, HEX_A);

    char want[1024];
    snprintf(want, sizeof want, "no Ollama manifest at %s/manifests/registry.ollama.ai/library/phi4/q8",
             models);
    check_resolve_fails("phi4:q8", PHI_E_IO, want);
    check_resolve_fails("phi4:q8", PHI_E_IO, "ollama pull phi4:q8");
    check_resolve_fails("someone/phi4", PHI_E_IO, "/manifests/registry.ollama.ai/someone/phi4/latest");
    check_resolve_fails("nolayer", PHI_E_FORMAT, "no model layer");
    check_resolve_fails("broken", PHI_E_FORMAT, "library/broken/latest is not a JSON manifest");
    check_resolve_fails("shortdigest", PHI_E_FORMAT, "digest 'sha256:abc' is malformed");
    check_resolve_fails("sneaky", PHI_E_FORMAT, "is malformed");
    check_resolve_fails("md5", PHI_E_FORMAT, "is malformed");
    check_resolve_fails("nodigest", PHI_E_FORMAT, "has no digest");
    check_resolve_fails("noblob", PHI_E_IO, "blobs/sha256-1111");
    check_resolve_fails("noblob", PHI_E_IO, "is missing");

    /* Names that could climb out of the tree, or are not names. */
    check_resolve_fails("../phi4", PHI_E_INVALID_ARG, "namespace '..'");
    check_resolve_fails("phi4:..", PHI_E_INVALID_ARG, "tag '..'");
    check_resolve_fails("phi4:../../x", PHI_E_INVALID_ARG, "host 'phi4:..' may not");
    check_resolve_fails("phi4:a/b", PHI_E_INVALID_ARG, "namespace 'phi4:a' has a character");
    check_resolve_fails("a/../b", PHI_E_INVALID_ARG, "namespace '..'");
    check_resolve_fails("..", PHI_E_INVALID_ARG, "name '..'");
    check_resolve_fails(".hidden", PHI_E_INVALID_ARG, "may not start with '.'");
    check_resolve_fails("", PHI_E_INVALID_ARG, "the name is empty");
    check_resolve_fails(":tag", PHI_E_INVALID_ARG, "the name is empty");
    check_resolve_fails("phi4:", PHI_E_INVALID_ARG, "the tag is empty");
    check_resolve_fails("a//b", PHI_E_INVALID_ARG, "the namespace is empty");
    check_resolve_fails("/phi4", PHI_E_INVALID_ARG, "the namespace is empty");
    check_resolve_fails("a/b/c/d", PHI_E_INVALID_ARG, "too many '/'");
    check_resolve_fails("ph\\i4", PHI_E_INVALID_ARG, "('\\')");
    check_resolve_fails("phi 4", PHI_E_INVALID_ARG, "(' ')");

    /* Without OLLAMA_MODELS (or with it empty), $HOME/.ollama/models. */
    char home[512], home_models[600];
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(home_models, sizeof home_models, "%s/.ollama/models", home);
    snprintf(blob, sizeof blob, "%s/blobs", home_models);
    make_dirs(blob);
    snprintf(blob, sizeof blob, "%s/blobs/sha256-" HEX_B, home_models);
    write_file(blob, "GGUF");
    write_manifest(home_models, "registry.ollama.ai/library/phi4/latest", layers_b);
    setenv("HOME", home, 1);
    unsetenv("OLLAMA_MODELS");
    check_resolves("phi4", home_models, HEX_B);
    setenv("OLLAMA_MODELS", "", 1);
    check_resolves("phi4", home_models, HEX_B);
    setenv("OLLAMA_MODELS", models, 1);
    check_resolves("phi4", models, HEX_A);
    unsetenv("OLLAMA_MODELS");
    unsetenv("HOME");
    check_resolve_fails("phi4", PHI_E_IO, "neither OLLAMA_MODELS nor HOME is set");
}

int main(void)
{
    char dir[] = "/tmp/phi4-options-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_defaults();
    test_every_flag();
    test_bad_numbers();
    test_bad_flags();
    test_prompt_file(dir);
    test_usage();
    test_ollama(dir);
    example_options_free(&opts);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("example options");
}
