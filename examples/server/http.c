#include "http.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static int fail(char *msg, size_t cap, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t cap, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return status;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* recv with a deadline, waking every 200 ms to see whether the server stops.
 * Returns the bytes read, 0 at end of stream, -1 on error or stop, -2 when
 * the deadline passed. */
static ssize_t recv_until(int fd, char *buf, size_t cap, double deadline, const atomic_bool *stop)
{
    for (;;) {
        if (stop && atomic_load(stop))
            return -1;
        if (now_s() > deadline)
            return -2;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        return n;
    }
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

typedef struct head_fields {
    bool has_length, has_transfer_encoding;
    uint64_t content_length;
} head_fields;

/* One header line (without CRLF) into the fields we act on. */
static int parse_header(char *line, size_t len, head_fields *h, char *msg, size_t cap)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i == len || line[i] != ':')
        return fail(msg, cap, 400, "malformed header line (a name, then ':' with no space before it)");
    size_t name_len = i++;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    for (size_t k = i; k < end; k++) {
        unsigned char c = (unsigned char)line[k];
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return fail(msg, cap, 400, "control character in a header value");
    }
    const char *value = line + i;
    size_t value_len = end - i;
    if (name_len == 14 && !strncasecmp(line, "Content-Length", 14)) {
        if (value_len == 0 || value_len > 18)
            return fail(msg, cap, 400, "Content-Length is not a number of bytes");
        uint64_t n = 0;
        for (size_t k = 0; k < value_len; k++) {
            if (value[k] < '0' || value[k] > '9')
                return fail(msg, cap, 400, "Content-Length is not a number of bytes");
            n = n * 10 + (uint64_t)(value[k] - '0');
        }
        if (h->has_length && h->content_length != n)
            return fail(msg, cap, 400, "two different Content-Length headers");
        h->has_length = true;
        h->content_length = n;
    } else if (name_len == 17 && !strncasecmp(line, "Transfer-Encoding", 17)) {
        h->has_transfer_encoding = true;
    }
    return 0;
}

static int parse_request_line(char *line, size_t len, http_request *req, char *msg, size_t cap)
{
    char *sp1 = memchr(line, ' ', len);
    if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof req->method)
        return fail(msg, cap, 400, "malformed request line");
    for (char *c = line; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return fail(msg, cap, 400, "malformed method in the request line");
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', len - (size_t)(target - line));
    if (!sp2 || sp2 == target)
        return fail(msg, cap, 400, "malformed request line");
    const char *version = sp2 + 1;
    size_t version_len = len - (size_t)(version - line);
    if (version_len != 8 || strncmp(version, "HTTP/1.", 7) != 0)
        return fail(msg, cap, version_len == 8 && !strncmp(version, "HTTP/", 5) ? 505 : 400,
                    "expected HTTP/1.0 or HTTP/1.1 at the end of the request line");
    if (version[7] != '0' && version[7] != '1')
        return fail(msg, cap, 505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
    if (*target != '/')
        return fail(msg, cap, 400, "the request target must be a path starting with '/'");
    for (char *c = target; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7F)
            return fail(msg, cap, 400, "control character in the request target");
    memcpy(req->method, line, (size_t)(sp1 - line));
    req->method[sp1 - line] = '\0';
    char *query = memchr(target, '?', (size_t)(sp2 - target));
    size_t path_len = (size_t)((query ? query : sp2) - target);
    if (path_len >= sizeof req->path)
        return fail(msg, cap, 400, "the request path is too long");
    memcpy(req->path, target, path_len);
    req->path[path_len] = '\0';
    return 0;
}

int http_read_request(http_conn *conn, size_t max_body, const atomic_bool *stop,
                      http_request *req, char *msg, size_t msg_cap)
{
    memset(req, 0, sizeof *req);
    msg[0] = '\0';
    double deadline = now_s() + HTTP_READ_TIMEOUT_S;
    char head[HTTP_MAX_HEAD];
    size_t have = 0;
    char *head_end = NULL;
    while (!head_end) {
        if (have == sizeof head)
            return fail(msg, msg_cap, 431, "request line and headers exceed %d bytes", HTTP_MAX_HEAD);
        ssize_t n = recv_until(conn->fd, head + have, sizeof head - have, deadline, stop);
        if (n == -2)
            return fail(msg, msg_cap, 408, "the request did not arrive within %d s", HTTP_READ_TIMEOUT_S);
        if (n < 0 || (n == 0 && have == 0))
            return -1;
        if (n == 0)
            return fail(msg, msg_cap, 400, "the connection closed inside the request head");
        size_t from = have > 3 ? have - 3 : 0;
        have += (size_t)n;
        for (size_t i = from; i + 4 <= have && !head_end; i++)
            if (!memcmp(head + i, "\r\n\r\n", 4))
                head_end = head + i;
    }

    /* Lines end with CRLF; a bare CR or LF, or a NUL, is refused rather than
     * guessed at. */
    head_fields fields = {0};
    char *line = head;
    bool first = true;
    while (line < head_end + 2) {
        char *eol = line;
        while (eol < head_end && *eol != '\r' && *eol != '\n' && *eol != '\0')
            eol++;
        if (eol < head_end && (*eol == '\n' || *eol == '\0' || eol[1] != '\n'))
            return fail(msg, msg_cap, 400, "request head lines must end with CRLF and hold no NUL");
        size_t len = (size_t)(eol - line);
        int rc;
        if (first)
            rc = parse_request_line(line, len, req, msg, msg_cap);
        else if (len && (line[0] == ' ' || line[0] == '\t'))
            rc = fail(msg, msg_cap, 400, "folded header lines are obsolete and refused");
        else
            rc = parse_header(line, len, &fields, msg, msg_cap);
        if (rc)
            return rc;
        first = false;
        line = eol + 2;
    }

    if (fields.has_transfer_encoding)
        return fields.has_length
                   ? fail(msg, msg_cap, 400, "both Transfer-Encoding and Content-Length")
                   : fail(msg, msg_cap, 501, "chunked (Transfer-Encoding) request bodies are not "
                                             "supported: send Content-Length");
    if (!fields.has_length)
        return strcmp(req->method, "POST") && strcmp(req->method, "PUT")
                   ? 0
                   : fail(msg, msg_cap, 411, "a %s needs a Content-Length header", req->method);
    if (fields.content_length > max_body)
        return fail(msg, msg_cap, 413, "the body (%llu bytes) exceeds the limit of %zu bytes",
                    (unsigned long long)fields.content_length, max_body);
    if (fields.content_length == 0)
        return 0;

    size_t body_len = (size_t)fields.content_length;
    req->body = malloc(body_len + 1);
    if (!req->body)
        return fail(msg, msg_cap, 500, "out of memory for a %zu-byte body", body_len);
    size_t got = (size_t)(have - (size_t)(head_end + 4 - head));
    if (got > body_len)
        got = body_len; /* pipelined bytes after the body: this connection closes anyway */
    memcpy(req->body, head_end + 4, got);
    while (got < body_len) {
        ssize_t n = recv_until(conn->fd, req->body + got, body_len - got, deadline, stop);
        if (n == -2)
            return fail(msg, msg_cap, 408, "the body did not arrive within %d s", HTTP_READ_TIMEOUT_S);
        if (n < 0)
            return -1;
        if (n == 0)
            return fail(msg, msg_cap, 400, "the connection closed after %zu of %zu body bytes",
                        got, body_len);
        got += (size_t)n;
    }
    req->body[body_len] = '\0';
    req->body_len = body_len;
    return 0;
}

void http_request_free(http_request *req)
{
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
}

static int send_all(http_conn *conn, const char *data, size_t len)
{
    while (len && !conn->broken) {
        ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            conn->broken = true;
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    return conn->broken ? -1 : 0;
}

static int send_head(http_conn *conn, int status, const char *content_type, const char *length_line)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: close\r\n"
                     "Cache-Control: no-cache\r\n\r\n",
                     status, http_reason(status), content_type, length_line);
    return send_all(conn, head, (size_t)n);
}

int http_send_response(http_conn *conn, int status, const char *content_type,
                       const char *body, size_t len)
{
    char length_line[48];
    snprintf(length_line, sizeof length_line, "Content-Length: %zu\r\n", len);
    if (send_head(conn, status, content_type, length_line))
        return -1;
    return send_all(conn, body, len);
}

int http_begin_stream(http_conn *conn, int status, const char *content_type)
{
    conn->streaming = true;
    return send_head(conn, status, content_type, "Transfer-Encoding: chunked\r\n");
}

int http_send_chunk(http_conn *conn, const char *data, size_t len)
{
    if (len == 0)
        return conn->broken ? -1 : 0;
    char size_line[24];
    int n = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
    if (send_all(conn, size_line, (size_t)n) || send_all(conn, data, len))
        return -1;
    return send_all(conn, "\r\n", 2);
}

int http_end_stream(http_conn *conn)
{
    conn->streaming = false;
    return send_all(conn, "0\r\n\r\n", 5);
}

bool http_peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void http_close(http_conn *conn)
{
    if (conn->fd < 0)
        return;
    shutdown(conn->fd, SHUT_WR);
    char sink[4096];
    double deadline = now_s() + 1.0;
    size_t drained = 0;
    while (drained < (1u << 20) && recv_until(conn->fd, sink, sizeof sink, deadline, NULL) > 0)
        drained += sizeof sink;
    close(conn->fd);
    conn->fd = -1;
}
