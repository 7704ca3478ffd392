/* Errors travel as a status code plus a sentence. Lower layers (format
 * readers, tokenizer, architectures) fill a phi_err; the API layer copies it
 * into the context, where phi_errmsg() finds it. */
#ifndef PHI_CORE_ERR_H
#define PHI_CORE_ERR_H

#include <stdarg.h>
#include <stdint.h>

#define PHI_ERRMSG_MAX 512

typedef struct phi_err {
    int32_t code;
    char msg[PHI_ERRMSG_MAX];
} phi_err;

/* Record code and a printf-style message; returns code, so that
 * `return phi_err_set(err, PHI_E_FORMAT, "...")` reads naturally.
 * err may be NULL. */
int32_t phi_err_set(phi_err *err, int32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with context ("loading x.gguf: ..."). */
/* The same with a va_list, for callers that are variadic themselves. */
int32_t phi_err_vset(phi_err *err, int32_t code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void phi_err_prefix(phi_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void phi_err_clear(phi_err *err);

#endif
