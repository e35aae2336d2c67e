#!/usr/bin/env bash
# Packaging of the C SDK (sdk/c): `cmake --install --component
# hakgal-client` into a temporary prefix, then a small program built only
# from what was installed, with `pkg-config --cflags --libs hakgal-client`
# (shared library) and the static library with its Requires.private
# (libcurl and jansson, linked shared: Debian ships no static curl
# dependencies), run against
# a real `hakgal serve`: it adds a fact and reads it back by id.
set -euo pipefail

: "${HAKGAL_BIN:?HAKGAL_BIN must name the hakgal binary}"
BUILD=$(cd "$(dirname "$HAKGAL_BIN")" && pwd)
ROOT="${HK_TEST_TMP:-/tmp}/sdk-c-install-$$"
PREFIX="$ROOT/prefix"
rm -rf "$ROOT"
mkdir -p "$ROOT"
srv=""
cleanup() {
    if [ -n "$srv" ]; then
        kill "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    rm -rf "$ROOT"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v pkg-config >/dev/null || fail "pkg-config missing"

# ---- install ----
cmake --install "$BUILD" --component hakgal-client --prefix "$PREFIX" \
    >"$ROOT/install.log" || fail "cmake --install: $(cat "$ROOT/install.log")"
pc=$(find "$PREFIX" -name hakgal-client.pc)
[ -n "$pc" ] || fail "no hakgal-client.pc under $PREFIX"
libdir=$(dirname "$(dirname "$pc")")
for f in "$PREFIX/include/hakgal_client.h" "$libdir/libhakgal-client.a" \
    "$libdir/libhakgal-client.so"; do
    [ -e "$f" ] || fail "$f not installed"
done
# Only the SDK: the component installs nothing of the server.
[ "$(find "$PREFIX" -type f | wc -l)" -eq 4 ] ||
    fail "unexpected files: $(find "$PREFIX" -type f)"
export PKG_CONFIG_PATH="$(dirname "$pc")"
pkg-config --exists hakgal-client || fail "pkg-config cannot read $pc"
[ "$(pkg-config --modversion hakgal-client)" = "0.1.0" ] || fail "version"
cflags=$(pkg-config --cflags hakgal-client)
libs=$(pkg-config --libs hakgal-client)
slibs=$(pkg-config --static --libs hakgal-client)
# The prefix comes from the file's own place, so it is the temp prefix.
inc=$(pkg-config --variable=includedir hakgal-client)
[ "$(cd "$inc" && pwd -P)" = "$(cd "$PREFIX/include" && pwd -P)" ] ||
    fail "includedir $inc is not $PREFIX/include"
lib=$(pkg-config --variable=libdir hakgal-client)
[ "$(cd "$lib" && pwd -P)" = "$(cd "$libdir" && pwd -P)" ] ||
    fail "libdir $lib is not $libdir"
grep -qF -- "-I$inc" <<<"$cflags" || fail "cflags: $cflags"
grep -qF -- "-L$lib" <<<"$libs" || fail "libs: $libs"
grep -qF -- "-lcurl" <<<"$slibs" || fail "static libs lack libcurl: $slibs"
grep -qF -- "-ljansson" <<<"$slibs" || fail "static libs lack jansson: $slibs"
echo "ok - installed, pkg-config: $cflags $libs"

# ---- a program built against the installed files only ----
cat >"$ROOT/app.c" <<'C'
#include <hakgal_client.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    if (strcmp(hkc_version(), HKC_VERSION) != 0) {
        fprintf(stderr, "version %s != %s\n", hkc_version(), HKC_VERSION);
        return 1;
    }
    hkc_options opt = HKC_OPTIONS_INIT;
    hkc_client *kb = NULL;
    hkc_error err;
    hkc_fact f, g;
    bool created = false;
    if (hkc_open(argv[1], &opt, &kb, &err) != HKC_OK ||
        hkc_add(kb, "HasPart(Computer, CPU)", NULL, &f, &created, &err) !=
            HKC_OK) {
        fprintf(stderr, "add: %s\n", err.message);
        hkc_close(kb);
        return 1;
    }
    int rc = 0;
    if (hkc_get(kb, f.id, &g, &err) != HKC_OK) {
        fprintf(stderr, "get: %s\n", err.message);
        rc = 1;
    } else {
        printf("%d %s\n", created, g.statement);
        hkc_fact_free(&g);
    }
    hkc_fact_free(&f);
    hkc_close(kb);
    return rc;
}
C
san=()
[ "${HK_SANITIZED:-0}" = 1 ] && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "${san[@]}" "$ROOT/app.c" -o "$ROOT/app" $cflags $libs ||
    fail "build against the shared library"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "${san[@]}" "$ROOT/app.c" -o "$ROOT/app-static" $cflags \
    "$libdir/libhakgal-client.a" $(pkg-config --libs libcurl jansson) -pthread ||
    fail "build against the static library"
# ldd's output is read whole before grep: with pipefail, `ldd | grep -q`
# fails at random when grep exits at its first match and ldd gets SIGPIPE.
deps=$(ldd "$ROOT/app-static")
grep -q hakgal-client <<<"$deps" && fail "app-static links the .so"
echo "ok - built with pkg-config (shared and static)"

# ---- run against a real server ----
"$HAKGAL_BIN" --data "$ROOT/kb" init >/dev/null
port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
# h2o's own allocations at exit, as for every server test under ASan
SRC="${HK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
LSAN_OPTIONS="suppressions=$SRC/tests/e2e/test_server_lsan.supp:print_suppressions=0" \
    "$HAKGAL_BIN" serve --data "$ROOT/kb" --listen "127.0.0.1:$port" --quiet \
    >"$ROOT/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
out=$(LD_LIBRARY_PATH="$libdir" "$ROOT/app" "http://127.0.0.1:$port") ||
    fail "app (shared): $out"
[ "$out" = "1 HasPart(Computer, CPU)" ] || fail "app (shared) printed: $out"
deps=$(LD_LIBRARY_PATH="$libdir" ldd "$ROOT/app")
grep -qF "$libdir/libhakgal-client.so" <<<"$deps" ||
    fail "app does not load the installed .so: $deps"
out=$("$ROOT/app-static" "http://127.0.0.1:$port") || fail "app (static): $out"
[ "$out" = "0 HasPart(Computer, CPU)" ] || fail "app (static) printed: $out"
echo "ok - both programs added and read a fact through the server"
kill "$srv"
code=0
wait "$srv" || code=$?
srv=""
[ "$code" -eq 0 ] || fail "server exit code $code: $(cat "$ROOT/serve.log")"
echo "PASS test_sdk_c_install"
