/*
 * version.c — the library's version at run time.
 *
 * HK_VERSION in hakgal.h is the version a program was compiled against;
 * hk_version() returns the one compiled into the library it runs with, so
 * that `hakgal version`, the REST stats and the MCP status report the code
 * that actually serves them (as SQLite's sqlite3_libversion does).
 *
 * Threads: pure function.
 */
#include "hakgal.h"

const char *hk_version(void)
{
    return HK_VERSION;
}
