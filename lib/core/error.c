#include "core/error.h"

#include <stdarg.h>

static _Thread_local char error_message[1024];
static _Thread_local nn_status error_status;

nn_status nn_error(nn_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_status = code;
    return code;
}

const char *nn_error_message(void) { return error_message; }

nn_status nn_error_status(void) { return error_status; }

void nn_error_clear(void)
{
    error_message[0] = '\0';
    error_status = NN_OK;
}
