#!/usr/bin/env python3
"""The Debian package (issue 17, item 4): `make deb`'s script builds it
from $HAKGAL_BIN; dpkg installs it; the service starts the way its systemd
unit says (as the hakgal user, with its environment and command line) and
answers; dpkg removes it and then purges it cleanly.

Needs root and dpkg (skipped, exit 77, without them). Safe to run again and
again: a package left by an interrupted run (marked by MARKER) is purged
first; a hakgal package installed by someone else is never touched (the
test skips). Runs hold a lock so that two builds' runs never overlap.
When systemd runs (PID 1), the test also starts the unit with systemctl;
in a container without it, the unit is started by hand as described.
"""
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("HAKGAL_BIN", "build/hakgal")
SRC = os.environ.get("HK_SOURCE_DIR",
                     os.path.join(os.path.dirname(__file__), "..", ".."))
TMP = os.environ.get("HK_TEST_TMP", "/tmp")
MARKER = "/var/lib/hakgal-e2e-installed"
LOCK = "/run/lock/hakgal-deb-test.lock"
SKIP = 77
passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(*cmd, check_rc=True, **kw):
    p = subprocess.run(list(cmd), capture_output=True, text=True,
                       timeout=300, **kw)
    if check_rc and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (
            " ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def dpkg(*args):
    """dpkg, waiting while another dpkg/apt holds its lock."""
    deadline = time.time() + 300
    while True:
        p = run("dpkg", *args, check_rc=False)
        if p.returncode == 0 or "lock" not in p.stderr or \
                time.time() > deadline:
            return p
        time.sleep(2)


def installed():
    p = run("dpkg-query", "-W", "-f=${Status}", "hakgal", check_rc=False)
    return p.returncode == 0 and "installed" in p.stdout and \
        "not-installed" not in p.stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def unit_settings(path):
    """Key -> list of values of the [Service] section."""
    out = {}
    section = None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def http(port, method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def purge():
    p = dpkg("--purge", "hakgal")
    check(p.returncode == 0, "dpkg --purge: " + p.stderr)


def main():
    if os.geteuid() != 0 or not shutil.which("dpkg"):
        print("skipped: needs root and dpkg")
        return SKIP
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    lock = open(LOCK, "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if installed() and not os.path.exists(MARKER):
        print("skipped: a hakgal package not installed by this test is "
              "present; leaving it alone")
        return SKIP
    if installed():
        purge()  # left by an interrupted run
    os.makedirs(TMP, exist_ok=True)
    work = tempfile.mkdtemp(prefix="deb-", dir=TMP)
    server = None
    try:
        # ---- build ----
        p = run("bash", os.path.join(SRC, "scripts", "build-deb.sh"), BIN,
                work)
        deb = p.stdout.strip().splitlines()[-1]
        check(deb.endswith(".deb") and os.path.exists(deb), "package built")
        info = run("dpkg-deb", "-f", deb).stdout
        check("Package: hakgal" in info and "liblmdb0" in info and
              "adduser" in info, "control names the package and its "
              "libraries:\n" + info)
        files = run("dpkg-deb", "-c", deb).stdout
        for f in ("./usr/bin/hakgal", "./usr/share/man/man1/hakgal.1.gz",
                  "./lib/systemd/system/hakgal.service",
                  "./etc/hakgal/hakgal.conf", "./etc/default/hakgal"):
            check(re.search(r" %s$" % re.escape(f), files, re.M),
                  "package holds " + f)
        conffiles = run("dpkg-deb", "--ctrl-tarfile", deb)
        check(conffiles.returncode == 0, "control archive readable")

        # ---- install ----
        open(MARKER, "w").close()
        p = dpkg("-i", deb)
        check(p.returncode == 0, "dpkg -i: " + p.stdout + p.stderr)
        check(installed(), "package installed")
        pw = run("getent", "passwd", "hakgal", check_rc=False).stdout
        check(pw.startswith("hakgal:") and "/var/lib/hakgal" in pw and
              "nologin" in pw, "hakgal system user: " + pw)
        uid = int(pw.split(":")[2]) if pw else -1
        check(0 < uid < 1000, "the user is a system user (uid %d)" % uid)
        st = os.stat("/var/lib/hakgal")
        check(st.st_uid == uid and (st.st_mode & 0o777) == 0o750,
              "/var/lib/hakgal owned by hakgal, mode 0750")
        man = run("man", "-l", "/usr/share/man/man1/hakgal.1.gz",
                  check_rc=False, env=dict(os.environ, MANWIDTH="80"))
        check(man.returncode != 0 or "hakgal serve" in man.stdout,
              "man page renders")
        manz = run("sh", "-c", "zcat /usr/share/man/man1/hakgal.1.gz").stdout
        check(".SH SERVE" in manz and "--map-size" in manz and
              ".SH SYNOPSIS" in manz, "man page holds --help and serve "
              "--help")
        unit = "/lib/systemd/system/hakgal.service"
        if shutil.which("systemd-analyze"):
            p = run("systemd-analyze", "verify", unit, check_rc=False)
            check(p.returncode == 0, "systemd-analyze verify: " + p.stderr)
        svc = unit_settings(unit)
        for k in ("NoNewPrivileges", "ProtectSystem", "ProtectHome",
                  "PrivateTmp", "CapabilityBoundingSet",
                  "RestrictAddressFamilies", "SystemCallFilter",
                  "MemoryDenyWriteExecute", "ReadWritePaths"):
            check(k in svc, "unit hardens with " + k)
        check(svc.get("User") == ["hakgal"], "unit runs as hakgal")

        # ---- start as the unit says ----
        port = free_port()
        if os.path.isdir("/run/systemd/system"):
            os.makedirs("/etc/systemd/system/hakgal.service.d",
                        exist_ok=True)
            with open("/etc/systemd/system/hakgal.service.d/test.conf",
                      "w") as f:
                f.write("[Service]\nEnvironment=HAKGAL_LISTEN=127.0.0.1:%d\n"
                        % port)
            run("systemctl", "daemon-reload")
            run("systemctl", "restart", "hakgal.service")
        else:
            env = {"PATH": "/usr/bin:/bin", "HOME": "/var/lib/hakgal"}
            for line in open("/etc/default/hakgal"):
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = v
            env["HAKGAL_LISTEN"] = "127.0.0.1:%d" % port
            if "asan" in os.path.basename(os.path.dirname(BIN)) or \
                    os.environ.get("HK_SANITIZED") in ("1", "ON", "TRUE"):
                env["ASAN_OPTIONS"] = "detect_leaks=0"
            cmd = ["setpriv", "--reuid=hakgal", "--regid=hakgal",
                   "--init-groups", "--no-new-privs"] + \
                svc["ExecStart"][0].split()
            log = open(os.path.join(work, "server.log"), "wb")
            server = subprocess.Popen(cmd, env=env, cwd="/",
                                      stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        status = None
        while time.time() < deadline:
            try:
                status, _ = http(port, "GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        check(status == 200, "the service answers /readyz")
        st_, body = http(port, "POST", "/v2/facts",
                         b'{"statement":"InstalledBy(hakgal, dpkg)"}')
        check(st_ in (200, 201), "the service stores a fact: %s" % body)
        st_, body = http(port, "GET", "/v2/facts?limit=10")
        check(st_ == 200 and "InstalledBy" in body, "and reads it back")
        data = "/var/lib/hakgal/kb/data.mdb"
        check(os.path.exists(data) and os.stat(data).st_uid == uid,
              "the KB is in /var/lib/hakgal/kb, owned by hakgal")
        if server:
            server.terminate()
            check(server.wait(60) == 0, "SIGTERM stops it cleanly")
            server = None
        else:
            run("systemctl", "stop", "hakgal.service")
            os.remove("/etc/systemd/system/hakgal.service.d/test.conf")
            os.rmdir("/etc/systemd/system/hakgal.service.d")

        # ---- remove keeps data and conffiles, purge removes all ----
        p = dpkg("--remove", "hakgal")
        check(p.returncode == 0, "dpkg --remove: " + p.stderr)
        check(not os.path.exists("/usr/bin/hakgal"), "binary removed")
        check(not os.path.exists(unit), "unit removed")
        check(os.path.exists(data), "remove keeps the KB")
        check(os.path.exists("/etc/hakgal/hakgal.conf"),
              "remove keeps the config (conffile)")
        purge()
        check(not installed(), "package purged")
        for path in ("/var/lib/hakgal", "/etc/hakgal", "/etc/default/hakgal",
                     "/usr/share/man/man1/hakgal.1.gz",
                     "/usr/share/doc/hakgal"):
            check(not os.path.exists(path), "purge removes " + path)
        check(run("getent", "passwd", "hakgal", check_rc=False).returncode
              != 0, "purge removes the hakgal user")
        check(run("getent", "group", "hakgal", check_rc=False).returncode
              != 0, "purge removes the hakgal group")
    finally:
        if server:
            server.kill()
            server.wait()
        if installed() and os.path.exists(MARKER):
            dpkg("--purge", "hakgal")
        if os.path.exists(MARKER):
            os.remove(MARKER)
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
