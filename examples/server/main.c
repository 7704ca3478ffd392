/* phi4-server: a local HTTP server speaking OpenAI's and Ollama's APIs over
 * one loaded model.
 *
 *   phi4-server -m MODEL.gguf|ollama:NAME [--host 127.0.0.1] [--port 8080]
 *               [--parallel N] [--max-body BYTES] [-t N] [sampling flags]
 *
 * Threads: one accepts connections and watches running generations (a
 * client that hung up is interrupted); each connection gets a worker thread
 * (at most MAX_CONNECTIONS; beyond, 503 at once); --parallel N contexts
 * (slots) generate at the same time, each with -t / N threads (-t 0: the
 * CPUs / N). Up to QUEUE_PER_SLOT * N requests wait for a slot; beyond that
 * they get 503. Ctrl-C or SIGTERM: stop accepting, interrupt what runs,
 * wait for the workers, free everything, exit 0. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "ollama.h"
#include "options.h"
#include "server.h"

#define MAX_CONNECTIONS 64
#define QUEUE_PER_SLOT 4

typedef struct route {
    const char *method, *path;
    void (*handle)(exchange *ex);
} route;

/* {"status":"ok"} and, as llama.cpp's server reports them, the slots' use. */
static void health(exchange *ex)
{
    size_t busy = slots_busy(&ex->srv->pool);
    json_writer w;
    json_writer_init(&w);
    json_begin_object(&w);
    json_key(&w, "status");
    json_cstring(&w, "ok");
    json_key(&w, "slots_idle");
    json_int(&w, (int64_t)(ex->srv->pool.n_slots - busy));
    json_key(&w, "slots_processing");
    json_int(&w, (int64_t)busy);
    json_end_object(&w);
    reply_json(ex, 200, &w);
    json_writer_free(&w);
}

static const route routes[] = {
    {"POST", "/v1/chat/completions", openai_chat_completions},
    {"POST", "/v1/completions", openai_completions},
    {"GET", "/v1/models", openai_models},
    {"GET", "/health", health},
    {"GET", "/v1/health", health},
    {"POST", "/api/chat", ollama_chat},
    {"POST", "/api/generate", ollama_generate},
    {"GET", "/api/tags", ollama_tags},
    {"GET", "/api/version", ollama_version},
};

static void dispatch(exchange *ex)
{
    bool path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, ex->req.path))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, ex->req.method)) {
            routes[i].handle(ex);
            return;
        }
    }
    if (path_known)
        reply_error(ex, 405, "invalid_request_error", "method_not_allowed",
                    "%s is not allowed on %s", ex->req.method, ex->req.path);
    else
        reply_error(ex, 404, "invalid_request_error", "not_found", "no route %s %s",
                    ex->req.method, ex->req.path);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct worker {
    pthread_t thread;
    bool used;
    atomic_bool done;
    server *srv;
    int fd;
} worker;

static atomic_bool stop_requested;
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    atomic_store(&stop_requested, true);
    ssize_t ignored = write(signal_pipe[1], "", 1);
    (void)ignored;
    errno = saved;
}

static void *serve_connection(void *arg)
{
    worker *wk = arg;
    exchange ex = {.srv = wk->srv, .conn = {.fd = wk->fd}};
    int64_t t0 = now_ms();
    char msg[256];
    int rc = http_read_request(&ex.conn, wk->srv->max_body, &stop_requested, &ex.req, msg,
                               sizeof msg);
    ex.ollama = !strncmp(ex.req.path, "/api/", 5);
    if (rc > 0)
        reply_error(&ex, rc, "invalid_request_error", NULL, "%s", msg);
    else if (rc == 0)
        dispatch(&ex);
    if (rc >= 0)
        fprintf(stderr, "phi4-server: %s %s %d prompt=%lld completion=%lld %lld ms%s\n",
                ex.req.method[0] ? ex.req.method : "-", ex.req.path[0] ? ex.req.path : "-",
                ex.status, (long long)ex.prompt_tokens, (long long)ex.completion_tokens,
                (long long)(now_ms() - t0), ex.cancelled ? " cancelled" : "");
    http_request_free(&ex.req);
    http_close(&ex.conn);
    atomic_store(&wk->done, true);
    return NULL;
}

/* A worker entry free for a new connection, reaping finished ones. */
static worker *free_worker(worker *workers)
{
    worker *found = NULL;
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
        worker *wk = &workers[i];
        if (wk->used && atomic_load(&wk->done)) {
            pthread_join(wk->thread, NULL);
            wk->used = false;
        }
        if (!wk->used && !found)
            found = wk;
    }
    return found;
}

static void refuse_busy(int fd)
{
    static const char body[] = "{\"error\":{\"message\":\"too many connections\","
                               "\"type\":\"server_busy\",\"code\":null}}\n";
    http_conn conn = {.fd = fd};
    http_send_response(&conn, 503, "application/json", body, sizeof body - 1);
    close(fd);
}

static int listen_on(const char *host, int64_t port)
{
    char service[16];
    snprintf(service, sizeof service, "%lld", (long long)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *res;
    int err = getaddrinfo(host, service, &hints, &res);
    if (err) {
        fprintf(stderr, "phi4-server: --host %s: %s\n", host, gai_strerror(err));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
                        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64))) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "phi4-server: cannot listen on %s:%lld: %s\n", host, (long long)port,
                strerror(saved));
    return fd;
}

static void serve(server *srv, int listen_fd)
{
    static worker workers[MAX_CONNECTIONS];
    while (!atomic_load(&stop_requested)) {
        struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN},
                              {.fd = signal_pipe[0], .events = POLLIN}};
        int n = poll(p, 2, 100);
        slots_watch(&srv->pool);
        if (n <= 0 || !(p[0].revents & POLLIN))
            continue;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        worker *wk = free_worker(workers);
        if (!wk) {
            refuse_busy(fd);
            continue;
        }
        *wk = (worker){.used = true, .srv = srv, .fd = fd};
        atomic_init(&wk->done, false);
        if (pthread_create(&wk->thread, NULL, serve_connection, wk)) {
            wk->used = false;
            refuse_busy(fd);
        }
    }
    fprintf(stderr, "phi4-server: stopping\n");
    slots_stop(&srv->pool);
    for (int i = 0; i < MAX_CONNECTIONS; i++)
        if (workers[i].used) {
            pthread_join(workers[i].thread, NULL);
            workers[i].used = false;
        }
}

/* The names and file facts /v1/models and /api/tags report. */
static void describe_model(server *srv, const char *model)
{
    char *path = NULL;
    phi_err err = {0};
    size_t n;
    bool ollama = example_is_ollama_ref(model);
    const char *ref = ollama ? model + strlen(EXAMPLE_OLLAMA_PREFIX) : model;
    if (ollama && example_ollama_resolve(ref, &path, &err) == PHI_OK) {
        const char *blob = strrchr(path, '/');
        blob = blob ? blob + 1 : path;
        if (!strncmp(blob, "sha256-", 7))
            snprintf(srv->digest, sizeof srv->digest, "sha256:%s", blob + 7);
    }
    snprintf(srv->model_id, sizeof srv->model_id, "%s", ollama ? ref : (strrchr(model, '/') ? strrchr(model, '/') + 1 : model));
    size_t len = strlen(srv->model_id);
    if (!ollama && len > 5 && !strcmp(srv->model_id + len - 5, ".gguf"))
        srv->model_id[len - 5] = '\0';
    if (phi_info_str(srv->model, PHI_INFO_MODEL_NAME, srv->model_title, sizeof srv->model_title,
                     &n) != PHI_OK)
        srv->model_title[0] = '\0';
    struct stat st;
    if (!stat(path ? path : model, &st)) {
        srv->file_size = st.st_size;
        srv->modified = st.st_mtime;
    }
    free(path);
}

int main(int argc, char **argv)
{
    example_options o;
    phi_err err = {0};
    example_options_init(&o);
    if (example_options_parse(&o, EXAMPLE_PROGRAM_SERVER, argc, argv, &err) != PHI_OK) {
        fprintf(stderr, "phi4-server: %s\n", err.msg);
        example_options_usage(EXAMPLE_PROGRAM_SERVER, stderr);
        return 2;
    }
    if (o.help || o.version) {
        if (o.help)
            example_options_usage(EXAMPLE_PROGRAM_SERVER, stdout);
        else
            printf("phi4-server %s (libphi4 %s)\n", PHI4_VERSION_STRING, phi_version_string());
        example_options_free(&o);
        return 0;
    }

    static server srv;
    srv.max_body = (size_t)o.max_body;
    srv.defaults = (gen_settings){.temperature = o.temp, .top_p = o.top_p, .top_k = o.top_k,
                                  .seed = o.seed, .max_tokens = o.n_predict < 0 ? 0 : o.n_predict};
    srv.keep_thinking = o.think == EXAMPLE_THINK_SHOW;
    srv.started = (int64_t)time(NULL);
    atomic_init(&srv.next_id, 1);
    if (example_open_model(&o, EXAMPLE_PROGRAM_SERVER, &srv.model, &err) != PHI_OK) {
        fprintf(stderr, "phi4-server: %s\n", err.msg);
        example_options_free(&o);
        return 1;
    }
    describe_model(&srv, o.model);

    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = o.threads > 0 ? o.threads : (cpus > 0 ? cpus : 1);
    int per_slot = threads / o.parallel > 0 ? (int)(threads / o.parallel) : 1;
    char msg[600];
    int status = 1, listen_fd = -1;
    if (slots_init(&srv.pool, srv.model, (size_t)o.parallel, per_slot,
                   (size_t)(QUEUE_PER_SLOT * o.parallel), msg, sizeof msg) != PHI_OK) {
        fprintf(stderr, "phi4-server: %s\n", msg);
        phi_ctx_free(srv.model);
        example_options_free(&o);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    if (pipe(signal_pipe) == 0 && (listen_fd = listen_on(o.host, o.port)) >= 0) {
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fprintf(stderr, "phi4-server: %s on http://%s:%lld with %lld slot(s) of %d thread(s)\n",
                srv.model_id, o.host, (long long)o.port, (long long)o.parallel, per_slot);
        serve(&srv, listen_fd);
        close(listen_fd);
        status = 0;
    }
    slots_free(&srv.pool);
    phi_ctx_free(srv.model);
    example_options_free(&o);
    return status;
}
