#include "syncto/sy_rc.h"

const char *sy_rc_str(sy_rc_t rc)
{
    switch (rc) {
    case SY_OK:
        return "ok";
    case SY_ERR_NOMEM:
        return "out of memory";
    case SY_ERR_TOO_LARGE:
        return "too large";
    case SY_ERR_INVALID:
        return "invalid";
    case SY_ERR_NOT_FOUND:
        return "not found";
    case SY_ERR_UPSTREAM:
        return "upstream error";
    case SY_ERR_UNREACHABLE:
        return "upstream unreachable";
    case SY_ERR_DB:
        return "database error";
    case SY_ERR_CRYPTO:
        return "crypto error";
    case SY_ERR_CONFIG:
        return "configuration error";
    case SY_ERR_IO:
        return "i/o error";
    case SY_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}
