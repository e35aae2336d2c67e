#!/usr/bin/env python3
"""Kubernetes, container and CI files of deploy/ (issue 17, items 4 and 5).

Helm is not packaged by Debian, so the chart is rendered by
tests/deploy/helmrender: Helm's own engine (Go text/template + sprig, from
Debian's golang packages), whose unit tests run first. Then:
  1. the chart renders for both modes (values-single.yaml,
     values-replicated.yaml) and refuses bad values (no tokens, replicated
     without Kafka brokers, an unknown mode);
  2. every rendered object, and the ArgoCD Application, is validated
     against the Kubernetes OpenAPI schemas and the Istio / Argo CD /
     Prometheus Operator CRD schemas (tests/e2e/k8s_validate.mjs); a broken
     object and an unknown kind are rejected by the same check;
  3. what each mode must contain: StatefulSet with PVC, /readyz and
     /healthz probes, resources, PDB, ServiceMonitor, NetworkPolicy, token
     secret; --stream on pod 0 and --follow on the others when replicated,
     with Istio routing writes to pod 0;
  4. the hakgal.conf the chart writes is accepted by the real server
     (hakgal serve --config with the chart's settings starts and answers);
  5. yamllint over every YAML file of deploy/ and .github/ and over the
     rendered manifests; action-validator over the GitHub workflow;
  6. the Dockerfile is multi-stage, non-root, has a healthcheck, and its
     runtime stage installs every library package the .deb depends on.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(__file__))
from test_server_api import BIN, SRC, Server  # noqa: E402

E2E = os.path.join(SRC, "tests", "e2e")
CHART = os.path.join(SRC, "deploy", "helm", "hakgal")
RENDER_SRC = os.path.join(SRC, "tests", "deploy", "helmrender")
TMP = os.environ.get("HK_TEST_TMP", "/tmp")
passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       **kw)
    return p.returncode, p.stdout, p.stderr


def docs(text):
    return [d for d in yaml.safe_load_all(text) if d]


def find(objs, kind, name=None):
    return [o for o in objs if o["kind"] == kind and
            (name is None or o["metadata"]["name"] == name)]


def main():
    for tool in ("go", "yamllint", "node"):
        if not shutil.which(tool):
            print("FAIL: %s missing (bash scripts/deps.sh)" % tool)
            return 1
    if not os.path.isdir(os.path.join(E2E, "node_modules", "yaml")):
        print("FAIL: npm test clients missing (bash scripts/test-setup.sh)")
        return 1
    os.makedirs(TMP, exist_ok=True)
    work = tempfile.mkdtemp(prefix="deploy-k8s-", dir=TMP)
    try:
        return body(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def body(work):
    goenv = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
                 GOFLAGS="", GOCACHE=os.environ.get("GOCACHE") or
                 os.path.join(tempfile.gettempdir(), "hakgal-test-gocache"))
    # ---- the renderer and its tests ----
    rc, out, err = run(["gofmt", "-l", "."], cwd=RENDER_SRC)
    check(rc == 0 and out == "", "helmrender is gofmt-clean: " + out + err)
    rc, out, err = run(["go", "vet", "."], cwd=RENDER_SRC, env=goenv)
    check(rc == 0, "go vet helmrender: " + out + err)
    rc, out, err = run(["go", "test", "."], cwd=RENDER_SRC, env=goenv)
    check(rc == 0, "helmrender unit tests: " + out + err)
    render_bin = os.path.join(work, "helmrender")
    rc, out, err = run(["go", "build", "-o", render_bin, "."],
                       cwd=RENDER_SRC, env=goenv)
    check(rc == 0, "helmrender builds: " + err)
    if rc:
        return report()

    def render(*values, name="hakgal", ns="kg"):
        args = [render_bin, "-name", name, "-namespace", ns]
        for v in values:
            args += ["-f", v]
        return run(args + [CHART])

    # ---- 1. both modes render; bad values are refused ----
    rendered = {}
    for mode in ("single", "replicated"):
        rc, out, err = render(os.path.join(CHART, "values-%s.yaml" % mode))
        check(rc == 0 and out.startswith("---"), mode + " renders: " + err)
        path = os.path.join(work, "%s.yaml" % mode)
        open(path, "w").write(out)
        rendered[mode] = path
    rc, _, err = render()
    check(rc == 1 and "tokens.items or tokens.existingSecret is required"
          in err, "no tokens: refused (%s)" % err.strip())
    bad = os.path.join(work, "bad.yaml")
    open(bad, "w").write("mode: replicated\ntokens: {existingSecret: s}\n")
    rc, _, err = render(bad)
    check(rc == 1 and "kafka.brokers is required" in err,
          "replicated without brokers: refused (%s)" % err.strip())
    open(bad, "w").write("mode: sharded\ntokens: {existingSecret: s}\n")
    rc, _, err = render(bad)
    check(rc == 1 and "mode must be single or replicated" in err,
          "unknown mode: refused (%s)" % err.strip())
    open(bad, "w").write("tokens: {items: {a: {role: root, sha256: x}}}\n")
    rc, _, err = render(bad)
    check(rc == 1 and "role must be read, write or admin" in err,
          "bad token role: refused (%s)" % err.strip())

    # ---- 2. schema validation ----
    argo = os.path.join(SRC, "deploy", "argocd", "application.yaml")
    rc, out, err = run(["node", "k8s_validate.mjs", rendered["single"],
                        rendered["replicated"], argo], cwd=E2E)
    check(rc == 0, "every object valid against its schema: " + err)
    kinds = json.loads(out.strip().splitlines()[-1])["kinds"] if rc == 0 \
        else {}
    for k in ("StatefulSet", "Service", "ConfigMap", "Secret",
              "PodDisruptionBudget", "ServiceMonitor", "NetworkPolicy",
              "VirtualService", "DestinationRule", "Application"):
        check(kinds.get(k, 0) >= 1, "validated a " + k)
    broken = os.path.join(work, "broken.yaml")
    single = docs(open(rendered["single"]).read())
    sts = find(single, "StatefulSet")[0]
    sts_bad = json.loads(json.dumps(sts))
    sts_bad["spec"]["replicas"] = "three"
    del sts_bad["spec"]["template"]["spec"]["containers"][0][
        "readinessProbe"]["httpGet"]["port"]
    open(broken, "w").write(yaml.safe_dump(sts_bad))
    rc, _, err = run(["node", "k8s_validate.mjs", broken], cwd=E2E)
    check(rc == 1 and "replicas" in err, "a broken StatefulSet is rejected")
    open(broken, "w").write("apiVersion: example.org/v1\nkind: Gadget\n"
                            "metadata: {name: g}\n")
    rc, _, err = run(["node", "k8s_validate.mjs", broken], cwd=E2E)
    check(rc == 1 and "no schema" in err, "an unknown kind is rejected")

    # ---- 3. contents per mode ----
    for mode, path in rendered.items():
        objs = docs(open(path).read())
        sts = find(objs, "StatefulSet")[0]
        spec = sts["spec"]
        pod = spec["template"]["spec"]
        c = pod["containers"][0]
        check(spec["replicas"] == (1 if mode == "single" else 3),
              mode + ": replicas")
        check(spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
              and any(m["name"] == "data" and m["mountPath"] ==
                      "/var/lib/hakgal" for m in c["volumeMounts"]),
              mode + ": KB on a PVC at /var/lib/hakgal")
        check(c["readinessProbe"]["httpGet"]["path"] == "/readyz" and
              c["livenessProbe"]["httpGet"]["path"] == "/healthz",
              mode + ": /readyz readiness and /healthz liveness probes")
        sp, rp = c["startupProbe"], c["readinessProbe"]
        check(rp["periodSeconds"] <= 2 and
              sp["periodSeconds"] * sp["failureThreshold"] >= 300,
              mode + ": readiness seen within 2 s, and 5 minutes to open "
              "a large KB before the startup probe gives up")
        check(c["resources"]["requests"] and c["resources"]["limits"],
              mode + ": resources")
        check(pod["securityContext"]["runAsNonRoot"] is True and
              c["securityContext"]["readOnlyRootFilesystem"] is True,
              mode + ": non-root, read-only root")
        secret = c["envFrom"][0]["secretRef"]["name"]
        check(secret, mode + ": tokens from a Secret")
        pdb = find(objs, "PodDisruptionBudget")
        check(pdb and pdb[0]["spec"]["selector"]["matchLabels"].items() <=
              spec["selector"]["matchLabels"].items(), mode + ": PDB")
        sm = find(objs, "ServiceMonitor")
        check(sm and sm[0]["spec"]["endpoints"][0]["path"] == "/metrics",
              mode + ": ServiceMonitor scrapes /metrics")
        scraped = [s for s in find(objs, "Service") if all(
            s["metadata"]["labels"].get(k) == v
            for k, v in sm[0]["spec"]["selector"]["matchLabels"].items())]
        check(len(scraped) == 1, mode + ": one Service scraped per pod")
        check(find(objs, "NetworkPolicy"), mode + ": NetworkPolicy")
        conf = find(objs, "ConfigMap")[0]["data"]["hakgal.conf"]
        check("data = /var/lib/hakgal/kb" in conf and
              "listen = 0.0.0.0:8080" in conf, mode + ": hakgal.conf")
        if mode == "single":
            check(c["command"] == ["hakgal", "serve", "--config",
                                   "/etc/hakgal/hakgal.conf"],
                  "single: hakgal serve --config")
            sec = find(objs, "Secret", secret)
            check(sec and all(k.startswith("HAKGAL_TOKEN_") and
                              re.match(r"^(read|write|admin):[0-9a-f]{64}$",
                                       v)
                              for k, v in sec[0]["stringData"].items()),
                  "single: token Secret holds HAKGAL_TOKEN_* = role:sha256")
            check(not find(objs, "VirtualService"), "single: Istio off")
            single_conf = conf
        else:
            script = c["args"][0]
            check("HAKGAL_STREAM=" in script and "HAKGAL_FOLLOW=" in script
                  and '"${HOSTNAME##*-}" = 0' in script,
                  "replicated: pod 0 streams, the others follow")
            env = {e["name"]: e["value"] for e in c["env"]}
            check(env["KAFKA_BROKERS"].count(":9092") == 2,
                  "replicated: Kafka brokers")
            check("follow-max-lag = 10000" in conf,
                  "replicated: follow-max-lag bounds readiness")
            writer = find(objs, "Service", "hakgal-writer")
            check(writer and writer[0]["spec"]["selector"][
                "statefulset.kubernetes.io/pod-name"] == "hakgal-0",
                "replicated: writer Service selects pod 0")
            vs = find(objs, "VirtualService")[0]["spec"]["http"]
            check(vs[0]["match"][0]["method"]["exact"] == "GET" and
                  vs[0]["route"][0]["destination"]["host"].startswith(
                      "hakgal.kg.") and
                  vs[1]["route"][0]["destination"]["host"].startswith(
                      "hakgal-writer.kg."),
                  "replicated: Istio sends reads to all, writes to pod 0")
            check(all(r["timeout"] and r["retries"]["attempts"] >= 1
                      for r in vs), "replicated: timeouts and retries")
            check(find(objs, "DestinationRule"), "replicated: "
                  "DestinationRule")
            np = find(objs, "NetworkPolicy")[0]["spec"]["egress"]
            check(any(p["port"] == 9092 for e in np for p in e["ports"]),
                  "replicated: NetworkPolicy lets Kafka out")

    # ---- 4. the chart's hakgal.conf works with the real server ----
    conf = os.path.join(work, "hakgal.conf")
    kb = os.path.join(work, "kb")
    open(conf, "w").write(single_conf.replace(
        "/var/lib/hakgal/kb", kb).replace(
        "/var/lib/hakgal/backups", os.path.join(work, "backups")).replace(
        "listen = 0.0.0.0:8080", "listen = 127.0.0.1:0"))
    srv = Server(args=["--config", conf], data=kb)
    try:
        st, _, _ = srv.request("GET", "/readyz")
        check(st == 200, "hakgal serve --config <chart's hakgal.conf> "
              "answers /readyz")
        check(srv.stop() == 0, "and stops cleanly")
    finally:
        srv.kill()
        srv.cleanup()

    # ---- 5. yamllint and the workflow ----
    lintcfg = os.path.join(SRC, "deploy", "yamllint.yaml")
    files = []
    for top in ("deploy", ".github"):
        for d, _, names in os.walk(os.path.join(SRC, top)):
            if os.path.join("helm", "hakgal", "templates") in d:
                continue  # Go templates: linted once rendered
            files += [os.path.join(d, n) for n in names
                      if n.endswith((".yaml", ".yml"))]
    check(len(files) >= 10, "YAML files found (%d)" % len(files))
    rc, out, err = run(["yamllint", "-s", "-c", lintcfg] + files +
                       list(rendered.values()))
    check(rc == 0, "yamllint: " + out + err)
    workflow = os.path.join(SRC, ".github", "workflows", "ci.yaml")
    rc, out, err = run([os.path.join(E2E, "node_modules", ".bin",
                                     "action-validator"), workflow])
    check(rc == 0, "action-validator: " + out + err)
    steps = " ".join(s.get("run", "") for s in
                     yaml.safe_load(open(workflow))["jobs"]["test"]["steps"])
    check("make test" in steps and "make deb" in steps,
          "workflow runs make test and make deb")

    # ---- 6. Dockerfile ----
    df = open(os.path.join(SRC, "deploy", "docker", "Dockerfile")).read()
    stages = re.findall(r"^FROM (\S+)", df, re.M)
    check(len(stages) == 2 and all(s == "debian:bookworm-slim"
                                   for s in stages),
          "Dockerfile: two stages on debian:bookworm-slim")
    check(re.search(r"^USER 10001", df, re.M) and
          re.search(r"^HEALTHCHECK .*\n.*/healthz", df, re.M),
          "Dockerfile: non-root user and healthcheck")
    runtime = df.split("\nFROM ")[2]
    rc, out, err = run(["bash", os.path.join(SRC, "scripts",
                                             "build-deb.sh"), BIN, work])
    check(rc == 0, "package builds for its Depends: " + err)
    if rc == 0:
        _, ctl, _ = run(["dpkg-deb", "-f", out.strip(), "Depends"])
        libs = [d.split()[0] for d in ctl.split(",")]
        libs = [x for x in libs if x.startswith("lib") and x != "libc6" and
                not x.startswith(("libasan", "libubsan"))]
        check(len(libs) >= 8, "Depends lists the libraries")
        for lib in libs:
            check(re.search(r"\b%s\b" % re.escape(lib), runtime),
                  "Dockerfile runtime stage installs " + lib)
    return report()


def report():
    print("%d passed, %d failed" % (passed, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
