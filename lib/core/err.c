#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int32_t phi_err_vset(phi_err *err, int32_t code, const char *fmt, va_list ap)
{
    if (err) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->code = code;
    }
    return code;
}

int32_t phi_err_set(phi_err *err, int32_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    phi_err_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

void phi_err_prefix(phi_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[PHI_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Room for both halves; the result is cut back to the message size. */
    char joined[2 * PHI_ERRMSG_MAX + 2];
    snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    size_t n = strlen(joined);
    n = n < sizeof err->msg ? n : sizeof err->msg - 1;
    memcpy(err->msg, joined, n);
    err->msg[n] = '\0';
}

void phi_err_clear(phi_err *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}
