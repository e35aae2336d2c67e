#!/usr/bin/env python3
"""Damaged KB files never crash a command (issue 19, item 1).

Builds a small KB (data/sample.hkl), then:
  1. fixed cases: data.mdb truncated (before open, and while an MCP
     server has it open), empty, a meta page damaged, a KB
     directory without permission (when not running as root), `init` in a
     non-empty directory that is no KB; each must fail with a clear message
     and exit code 5 (damaged / I/O) or 4 (init conflict);
  2. random damage: N copies (seeded) with one byte changed each; every read
     command runs on every copy and must end without a signal (exit < 128),
     without a sanitizer report, and with a message on stderr whenever it
     fails; and whenever what a read shows differs from the undamaged KB
     (export, query, audit list, history), `verify --deep` must fail
     (exit 6 or a damage error): every changed content is flagged.
HK_DAMAGE_COPIES and HK_DAMAGE_SEED override N (40) and the seed (19).
"""
import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

BIN = os.environ.get("HAKGAL_BIN")
SRC = os.environ.get("HK_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.path.join(os.environ.get("HK_TEST_TMP", "/tmp"),
                   "damaged-kb-%d" % os.getpid())
COPIES = int(os.environ.get("HK_DAMAGE_COPIES", "40"))
SEED = int(os.environ.get("HK_DAMAGE_SEED", "19"))
READS = [["stats"], ["query", "?p(?x, ?y)"], ["get", "1"], ["predicates"],
         ["entities"], ["history", "1"], ["audit", "list"],
         ["audit", "verify"], ["export"], ["verify"], ["verify", "--deep"],
         ["verify", "--deep", "--json"]]
# Reads whose answer shows content: a copy on which one of them answers
# differently from the undamaged KB has changed content.
CONTENT = (["export"], ["query", "?p(?x, ?y)"], ["audit", "list"],
           ["history", "1"], ["get", "1"])
SANITIZER = (b"Sanitizer", b"runtime error:", b"LeakSanitizer")
failures = []


def run(data, *args):
    p = subprocess.run([BIN, "--data", data] + list(args),
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def expect_damaged(data, what, needle=b"damaged"):
    for args in (["stats"], ["add", "New(fact)"], ["export"]):
        rc, _, err = run(data, *args)
        check(rc == 5 and needle in err and b"restore from a backup" in err,
              "%s: %s gave rc %d, stderr %r" % (what, args[0], rc, err[-300:]))


def fresh_copy(base, name):
    d = os.path.join(TMP, name)
    shutil.copytree(base, d)
    return d


def main():
    if not BIN:
        print("SKIP: HAKGAL_BIN not set")
        return 77
    shutil.rmtree(TMP, ignore_errors=True)
    os.makedirs(TMP)
    try:
        return body()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


def body():
    kb = os.path.join(TMP, "kb")
    rc, _, err = run(kb, "init")
    check(rc == 0, "init: %r" % err)
    rc, _, err = run(kb, "import", "--quiet",
                     os.path.join(SRC, "data", "sample.hkl"))
    check(rc == 0, "import: %r" % err)
    data = os.path.join(kb, "data.mdb")
    size = os.path.getsize(data)

    # ---- truncated: shorter than the pages the meta page claims ----
    d = fresh_copy(kb, "truncated")
    os.truncate(os.path.join(d, "data.mdb"), size * 6 // 10)
    expect_damaged(d, "truncated", b"truncated")

    # ---- empty data.mdb: no KB, and never a fresh one ----
    d = fresh_copy(kb, "empty")
    open(os.path.join(d, "data.mdb"), "w").close()
    expect_damaged(d, "empty", b"empty file")
    check(os.path.getsize(os.path.join(d, "data.mdb")) == 0,
          "empty: a command wrote a fresh KB over it")

    # ---- a meta page without its flag: LMDB would start a new KB ----
    for page, word in ((0, b"first"), (1, b"second")):
        d = fresh_copy(kb, "meta%d" % page)
        with open(os.path.join(d, "data.mdb"), "r+b") as f:
            f.seek(page * 4096 + 10)
            f.write(b"\0")
        before = open(os.path.join(d, "data.mdb"), "rb").read()
        expect_damaged(d, "meta page %d" % page, word)
        after = open(os.path.join(d, "data.mdb"), "rb").read()
        check(before == after, "meta page %d: the file was changed" % page)

    # ---- permission denied (root passes every permission check, so as
    # root the command runs as nobody when setpriv can start it) ----
    d = fresh_copy(kb, "noperm")
    os.chmod(TMP, 0o755)
    os.chmod(d, 0)
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid", "65534", "--regid", "65534",
                  "--clear-groups"]
    try:
        p = subprocess.run(prefix + [BIN, "--data", d, "stats"],
                           capture_output=True, timeout=60)
        if p.returncode in (126, 127) or b"setpriv" in p.stderr:
            print("note: permission case skipped (cannot run as nobody)")
        else:
            check(p.returncode == 5 and b"Permission denied" in p.stderr,
                  "no permission: rc %d, %r" % (p.returncode, p.stderr))
    except OSError:
        print("note: permission case skipped (no setpriv)")
    os.chmod(d, 0o755)

    # ---- init in a non-empty directory that holds no KB ----
    d = os.path.join(TMP, "other")
    os.makedirs(d)
    open(os.path.join(d, "notes.txt"), "w").write("mine\n")
    rc, _, err = run(d, "init")
    check(rc == 4 and b"holds no knowledge base" in err,
          "init in a non-empty dir: rc %d, %r" % (rc, err))
    check(not os.path.exists(os.path.join(d, "data.mdb")),
          "init in a non-empty dir created a KB")
    rc, out, err = run(kb, "init")
    check(rc == 0 and b"already exists" in out,
          "init on a KB: rc %d, %r" % (rc, out))

    # ---- truncated while open: a long-running reader (MCP over stdio)
    # touches a page beyond the new end; exit 5 with a message, no SIGBUS ----
    d = fresh_copy(kb, "shrunk")
    p = subprocess.Popen([BIN, "--data", d, "mcp"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def send(obj):
        p.stdin.write((json.dumps(obj) + "\n").encode())
        p.stdin.flush()
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
          "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                     "clientInfo": {"name": "t", "version": "1"}}})
    first = p.stdout.readline()
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    os.truncate(os.path.join(d, "data.mdb"), 3 * 4096)
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
          "params": {"name": "health_check", "arguments": {"deep": True}}})
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    check(b'"id":1' in first, "shrunk: no initialize answer: %r" % first)
    check(p.returncode == 5 and b"damaged" in err and
          b"restore from a backup" in err,
          "truncated while open: rc %d, %r" % (p.returncode, err[-300:]))

    # ---- one damaged byte per copy, every read command on each ----
    baseline = {tuple(a): run(kb, *a)[:2] for a in CONTENT}
    rc, _, err = run(kb, "verify", "--deep")
    check(rc == 0, "verify --deep of the undamaged KB: rc %d, %r" % (rc, err))
    rng = random.Random(SEED)
    refused = crashed = changed = 0
    for i in range(COPIES):
        d = fresh_copy(kb, "byte%d" % i)
        path = os.path.join(d, "data.mdb")
        # half of the damage lands in page headers and node offsets (the
        # first 64 bytes of a page), where LMDB is most easily misled
        if rng.random() < 0.5:
            off = rng.randrange(size)
        else:
            off = rng.randrange(2, size // 4096) * 4096 + rng.randrange(64)
        with open(path, "r+b") as f:
            f.seek(off)
            old = f.read(1)[0]
            new = old ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else \
                rng.randrange(256)
            f.seek(off)
            f.write(bytes([new]))
        with ThreadPoolExecutor(max_workers=2) as pool:  # 2 cores
            results = list(pool.map(lambda a: (a, run(d, *a)), READS))
        for args, (rc, _, err) in results:
            what = "copy %d (byte %d: %02x -> %02x), %s" % (
                i, off, old, new, " ".join(args))
            if rc < 0 or rc >= 128 or any(s in err for s in SANITIZER):
                crashed += 1
                check(False, "%s: died (rc %d): %r" % (what, rc, err[-400:]))
            elif rc != 0:
                refused += 1
                check(err.strip() != b"", "%s: rc %d without a message" %
                      (what, rc))
        res = {tuple(a): r for a, r in results}
        if any(res[tuple(a)][:2] != baseline[tuple(a)] for a in CONTENT):
            changed += 1
            rc = res[("verify", "--deep")][0]
            check(rc != 0, "copy %d (byte %d: %02x -> %02x): content changed "
                  "but verify --deep said ok" % (i, off, old, new))
        shutil.rmtree(d)
    print("%d copies x %d commands: %d failed with a message, %d crashed; "
          "%d copies with changed content, all flagged by verify --deep "
          "unless listed above" % (COPIES, len(READS), refused, crashed,
                                   changed))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
