/* The HTTP/1.1 side of phi4-server: read one request strictly (limits on the
 * head and the body, Content-Length bodies only) and write a response, whole
 * (Content-Length) or streamed (chunked). Every response closes the
 * connection: one request per connection keeps the server simple, and the
 * clients it serves (SDKs, curl, editors) reconnect cheaply on loopback. */
#ifndef PHI4_SERVER_HTTP_H
#define PHI4_SERVER_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The request line and headers together; more is 431. */
#define HTTP_MAX_HEAD 16384
/* Seconds a client may take to send its request. */
#define HTTP_READ_TIMEOUT_S 30

typedef struct http_request {
    char method[16];
    char path[1024];  /* the target up to '?', e.g. "/v1/models" */
    char *body;       /* body_len bytes, NUL-terminated; NULL when empty */
    size_t body_len;
} http_request;

typedef struct http_conn {
    int fd;
    bool broken;    /* a send failed: the client is gone */
    bool streaming; /* a chunked body is open */
} http_conn;

/* Read a request from conn. Returns 0, or the HTTP status to answer with
 * (400, 408, 411, 413, 431, 501, 505) and a sentence in msg, or -1 when the
 * client closed the connection before sending anything, or the server is
 * stopping (*stop is polled while waiting). The body is malloc'ed: free it
 * with http_request_free. */
int http_read_request(http_conn *conn, size_t max_body, const atomic_bool *stop,
                      http_request *req, char *msg, size_t msg_cap);
void http_request_free(http_request *req);

/* The reason phrase of a status code ("OK", "Not Found", ...). */
const char *http_reason(int status);

/* A whole response. Returns 0, or -1 if the client is gone. */
int http_send_response(http_conn *conn, int status, const char *content_type,
                       const char *body, size_t len);
/* A streamed response: headers now, then chunks; a zero-length chunk is
 * skipped (it would end the stream). */
int http_begin_stream(http_conn *conn, int status, const char *content_type);
int http_send_chunk(http_conn *conn, const char *data, size_t len);
int http_end_stream(http_conn *conn);

/* Whether the peer has hung up (without blocking). */
bool http_peer_gone(int fd);

/* Close the connection gracefully: stop sending, drain what the client still
 * sends for a moment (so that closing does not reset the connection before
 * the client has read an early error response), then close. */
void http_close(http_conn *conn);

#endif
