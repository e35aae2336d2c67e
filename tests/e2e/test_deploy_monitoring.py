#!/usr/bin/env python3
"""The monitoring files of deploy/ against the real server (issue 17, item 3).

  1. promtool checks the alert rules and the example Prometheus config, and
     runs the rules' unit tests (deploy/prometheus/hakgal-alerts.test.yaml);
  2. every PromQL expression of the Grafana dashboards parses (promtool
     checks them as recording rules, Grafana's $variables replaced);
  3. every hakgal_* metric that a dashboard or rule names is exported by a
     real `hakgal serve` on /metrics, or, for the metrics that exist only in
     a mode (--stream, --follow, a model endpoint), is rendered by the
     server's source;
  4. hakgal_connections_open follows connections opened and closed, and
     hakgal_audit_verify_failures_total counts a verification of a KB
     whose audit chain was tampered with.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from test_server_api import BIN, SRC, Server  # noqa: E402

DEPLOY = os.path.join(SRC, "deploy")
PROM = os.path.join(DEPLOY, "prometheus")
TMP = os.environ.get("HK_TEST_TMP", "/tmp")
os.makedirs(TMP, exist_ok=True)
# Present only when their mode is on: a follower, a publisher, a model client.
MODE_PREFIXES = ("hakgal_follow_", "hakgal_stream_", "hakgal_llm_")
passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def promtool(*args, cwd=PROM):
    p = subprocess.run(["promtool"] + list(args), cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def dashboard_exprs():
    out = []
    for path in sorted(glob.glob(os.path.join(DEPLOY, "grafana", "dashboards",
                                              "*.json"))):
        d = json.load(open(path))
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                out.append((os.path.basename(path), panel["title"], t["expr"]))
    return out


def rule_exprs():
    text = open(os.path.join(PROM, "hakgal-alerts.yaml")).read()
    # Block scalars (>-) and plain scalars; names are all this needs.
    return [text]


def metric_names(text):
    return set(re.findall(r"\b(hakgal_[a-z0-9_]+)", text))


def scrape(srv):
    st, _, text = srv.request("GET", "/metrics")
    check(st == 200, "/metrics answers 200")
    return text


def gauge(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def main():
    if not shutil.which("promtool"):
        print("FAIL: promtool missing: install prometheus (scripts/deps.sh)")
        return 1
    # ---- 1. rules and config ----
    rc, out = promtool("check", "rules", "hakgal-alerts.yaml")
    check(rc == 0 and "SUCCESS" in out, "promtool check rules: " + out)
    rc, out = promtool("test", "rules", "hakgal-alerts.test.yaml")
    check(rc == 0 and "SUCCESS" in out, "promtool test rules: " + out)
    rc, out = promtool("check", "config", "prometheus.yml")
    check(rc == 0, "promtool check config: " + out)

    # ---- 2. dashboard expressions parse ----
    exprs = dashboard_exprs()
    check(len(exprs) >= 12, "dashboards have their panels")
    work = tempfile.mkdtemp(prefix="deploy-mon-", dir=TMP)
    try:
        with open(os.path.join(work, "dash.yaml"), "w") as f:
            f.write("groups:\n  - name: dashboards\n    rules:\n")
            for i, (_, _, e) in enumerate(exprs):
                e = e.replace("$__rate_interval", "1m").replace(
                    "$instance", ".*")
                f.write("      - record: dashboard:expr_%d\n" % i)
                f.write("        expr: %s\n" % json.dumps(e))
        rc, out = promtool("check", "rules", "dash.yaml", cwd=work)
        check(rc == 0, "dashboard PromQL parses: " + out)
        # A broken expression is caught by the same check.
        with open(os.path.join(work, "bad.yaml"), "w") as f:
            f.write("groups:\n  - name: b\n    rules:\n"
                    "      - record: b:x\n        expr: \"rate(x[1m]\"\n")
        rc, _ = promtool("check", "rules", "bad.yaml", cwd=work)
        check(rc != 0, "promtool rejects a broken expression")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ---- 3 and 4. against a real server ----
    srv = Server()
    try:
        st, _, _ = srv.request("POST", "/v2/facts",
                               {"statement": "Watches(ops, hakgal)"})
        check(st in (200, 201), "a fact is written")
        srv.request("GET", "/v2/facts?limit=1")
        text = scrape(srv)
        exported = metric_names(text)
        source = ""
        for path in glob.glob(os.path.join(SRC, "src", "**", "*.c"),
                              recursive=True):
            source += open(path, encoding="utf-8").read()
        wanted = metric_names(" ".join(e for _, _, e in exprs))
        wanted |= metric_names(" ".join(rule_exprs()))
        check(len(wanted) >= 20, "dashboards and rules name metrics")
        for name in sorted(wanted):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            if name.startswith(MODE_PREFIXES):
                check('"' + name in source or name + " " in source,
                      "%s rendered by the server's source" % name)
            else:
                check(name in exported or base in exported,
                      "%s exported on /metrics" % name)
        open0 = gauge(text, "hakgal_connections_open")
        check(open0 is not None and open0 >= 1,
              "hakgal_connections_open counts the scrape (%s)" % open0)
        socks = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.recv(4096)
            socks.append(s)
        n = gauge(scrape(srv), "hakgal_connections_open")
        check(n is not None and n >= 21, "20 idle keep-alive connections "
              "are open (%s)" % n)
        for s in socks:
            s.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            n = gauge(scrape(srv), "hakgal_connections_open")
            if n is not None and n <= 2:
                break
            time.sleep(0.1)
        check(n is not None and n <= 2, "closed connections leave the gauge "
              "(%s)" % n)
        check(gauge(text, "hakgal_audit_verify_failures_total") == 0,
              "no verification failure yet")
        st, _, res = srv.request("GET", "/v2/admin/verify")
        check(st == 200 and res.get("ok") is True, "verify ok")
        check(gauge(scrape(srv), "hakgal_audit_verify_failures_total") == 0,
              "a passed verification is not counted")
        rc, out = promtool_metrics(text)
        check(rc == 0, "promtool check metrics: " + out)
        check(srv.stop() == 0, "server stops cleanly")

        # Tamper with the third audit entry, then verify through the server.
        for i in range(3):
            subprocess.run([BIN, "--data", srv.data, "add",
                            "Step(s%d)" % i], check=True, capture_output=True)
        dump = subprocess.run(["mdb_dump", "-s", "audit", srv.data],
                              check=True, capture_output=True,
                              text=True).stdout.split("\n")
        i = dump.index("HEADER=END") + 6
        v = dump[i]
        j = len(v) // 2
        dump[i] = v[:j] + ("0" if v[j] != "0" else "1") + v[j + 1:]
        subprocess.run(["mdb_load", "-s", "audit", srv.data],
                       input="\n".join(dump), check=True, capture_output=True,
                       text=True)
        srv2 = Server(data=srv.data)
        try:
            st, _, res = srv2.request("GET", "/v2/admin/verify")
            check(st == 200 and res.get("ok") is False,
                  "verify reports the tampered chain")
            st, _, res = srv2.request("GET", "/v2/admin/verify?deep=1")
            check(st == 200 and res.get("ok") is False, "deep verify too")
            check(gauge(scrape(srv2), "hakgal_audit_verify_failures_total")
                  == 2, "both failed verifications are counted")
            check(srv2.stop() == 0, "second server stops cleanly")
        finally:
            srv2.kill()
            srv2.cleanup()
    finally:
        srv.kill()
        srv.cleanup()
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


def promtool_metrics(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=60)
    # Lint remarks (naming advice) are not failures of the format.
    return p.returncode if "error" in p.stderr.lower() else 0, p.stderr


if __name__ == "__main__":
    sys.exit(main())
