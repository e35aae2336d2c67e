/*
 * svc_exit.c — the process exit codes shared by every command (service.h,
 * section "Process exit codes"): one mapping from hk_err to an exit
 * status, so that the CLI, `hakgal serve` and `hakgal mcp` agree. Pure
 * function, callable from any thread.
 */
#include "service/service.h"

int hk_exit_code(hk_err rc)
{
    switch (rc) {
    case HK_OK:
        return HK_EXIT_OK;
    case HK_ERR_INVALID:
    case HK_ERR_LIMIT:
        return HK_EXIT_INVALID;
    case HK_ERR_NOT_FOUND:
        return HK_EXIT_NOT_FOUND;
    case HK_ERR_EXISTS:
    case HK_ERR_BUSY:
        return HK_EXIT_CONFLICT;
    default:
        return HK_EXIT_IO;
    }
}
