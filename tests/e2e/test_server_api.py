#!/usr/bin/env python3
"""End-to-end tests of `hakgal serve`: every REST route with success and
error cases, auth on and off, /metrics through promtool, /openapi.json
against the routes the server answers, settings precedence.

Also the helper module of the other test_server_*.py files (class Server).
Standard library only; starts the real binary ($HAKGAL_BIN) on a free port
(--listen 127.0.0.1:0, port read from the start-up banner) with a fresh
data directory under $HK_TEST_TMP.
"""
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

BIN = os.environ.get("HAKGAL_BIN", "build/hakgal")
TMP = os.environ.get("HK_TEST_TMP", tempfile.gettempdir())
SRC = os.environ.get("HK_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(
                         os.path.abspath(__file__)))))
LSAN_SUPP = os.path.join(SRC, "tests", "e2e", "test_server_lsan.supp")
START_TIMEOUT = 60.0  # ASan builds start slowly on a busy machine


def sha256_hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


class Server:
    """One `hakgal serve` process on a free loopback port."""

    def __init__(self, args=(), env=None, data=None, listen="127.0.0.1:0",
                 wait=True):
        os.makedirs(TMP, exist_ok=True)
        self.root = tempfile.mkdtemp(prefix="srv-", dir=TMP)
        self.data = data or os.path.join(self.root, "kb")
        self.log_path = os.path.join(self.root, "server.log")
        e = dict(os.environ)
        # h2o 2.2 keeps a few per-thread buffers and queues after shutdown.
        e["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % LSAN_SUPP
        for k in list(e):
            if k.startswith("HAKGAL_") and k != "HAKGAL_BIN":
                del e[k]
        if env:
            e.update(env)
        cmd = [BIN, "serve", "--data", self.data, "--listen", listen,
               "--threads", "2"] + list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, env=e)
        self.port = None
        if wait:
            self.wait_ready()

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_ready(self):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited %s:\n%s" %
                                     (self.proc.returncode, self.output()))
            if self.port is None:
                for line in self.output().splitlines():
                    if "listening on" in line:
                        self.port = int(line.split("listening on ")[1]
                                        .split()[0].rsplit(":", 1)[1])
            if self.port is not None:
                try:
                    st, _, _ = self.request("GET", "/readyz", timeout=2)
                    if st == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("server not ready:\n" + self.output())

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30,
                raw=False):
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        c = self.conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if raw:
            return r.status, hdrs, data
        ctype = hdrs.get("content-type", "")
        if ctype.startswith("application/json") and data:
            return r.status, hdrs, json.loads(data)
        return r.status, hdrs, data.decode("utf-8", "replace")

    def stop(self, timeout=60):
        """SIGTERM; returns the exit code (0 = clean, no leaks)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGTERM:\n" +
                                     self.output())
        self.log.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def q(s):
    return urllib.parse.quote(s, safe="")


def assert_error(tc, status, body, want_status, want_code=None):
    """Every error is JSON {"error": {"code", "message", "detail"}}."""
    tc.assertEqual(status, want_status, body)
    tc.assertIsInstance(body, dict, body)
    tc.assertIn("error", body)
    err = body["error"]
    tc.assertIsInstance(err.get("code"), str)
    tc.assertIsInstance(err.get("message"), str)
    tc.assertTrue(err["message"])
    tc.assertIn("detail", err)
    if want_code:
        tc.assertEqual(err["code"], want_code, body)


SKIP_EXIT = 77  # CTest's SKIP_RETURN_CODE (CMakeLists.txt)


def run_tests(module_name):
    """unittest with a closing 'N passed, N failed, N skipped' line. Exits 1
    when a test failed, else 77 (counted as skipped by CTest) when a test
    was skipped, with a SKIP line per skipped test; 0 otherwise."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[module_name])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    for test, why in result.skipped:
        print("SKIP: %s: %s" % (test.id(), why))
    print("%d passed, %d failed, %d skipped" %
          (passed, failed, len(result.skipped)))
    if failed:
        sys.exit(1)
    sys.exit(SKIP_EXIT if result.skipped else 0)


# ==== Tests ====

class OpenServer(unittest.TestCase):
    """No tokens: protected mode, everything allowed on loopback."""

    @classmethod
    def setUpClass(cls):
        cls.s = Server()

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        out = cls.s.output()
        cls.s.cleanup()
        if rc != 0:
            raise AssertionError("unclean exit %d:\n%s" % (rc, out))

    def r(self, *a, **k):
        return self.s.request(*a, **k)

    def add(self, stmt, **meta):
        body = {"statement": stmt}
        body.update(meta)
        st, _, b = self.r("POST", "/v2/facts", body)
        self.assertIn(st, (200, 201), b)
        return b

    def test_banner_says_protected_mode(self):
        self.assertIn("protected mode", self.s.output())

    def test_health(self):
        st, h, b = self.r("GET", "/healthz")
        self.assertEqual((st, b), (200, {"status": "ok"}))
        self.assertTrue(h["content-type"].startswith("application/json"))
        st, _, b = self.r("GET", "/readyz")
        self.assertEqual((st, b["status"]), (200, "ready"))

    def test_post_forms_and_idempotence(self):
        st, _, b = self.r("POST", "/v2/facts",
                          {"statement": "HasPart(Computer, CPU)."})
        self.assertEqual(st, 201, b)
        self.assertEqual(b["statement"], "HasPart(Computer, CPU)")
        self.assertEqual(b["args"], ["Computer", "CPU"])
        fid = b["id"]
        st, _, b2 = self.r("POST", "/v2/facts",
                           {"predicate": "HasPart", "subject": "Computer",
                            "object": "CPU"})
        self.assertEqual(st, 200, b2)
        self.assertEqual(b2["id"], fid)
        st, _, b3 = self.r("POST", "/v2/facts",
                           {"predicate": "Bond", "args": ["NH3", "chlorine",
                                                          "carbon"],
                            "confidence": 0.75, "source": "lab",
                            "tags": ["chem", "n-ary"],
                            "context": {"page": 3}})
        self.assertEqual(st, 201, b3)
        self.assertEqual(b3["statement"], "Bond(NH3, chlorine, carbon)")
        self.assertEqual(b3["confidence"], 0.75)
        self.assertEqual(b3["source"], "lab")
        self.assertEqual(b3["tags"], ["chem", "n-ary"])
        self.assertEqual(b3["context"], {"page": 3})
        st, _, b4 = self.r("POST", "/v2/facts",
                           {"predicate": "IsA", "subject": "Water"})
        self.assertEqual((st, b4["statement"]), (201, "IsA(Water)"))

    def test_post_errors(self):
        st, _, b = self.r("POST", "/v2/facts", '{"statement": "HasPart(a, b"')
        assert_error(self, st, b, 400, "invalid_json")
        self.assertIn("line", b["error"]["detail"])
        st, _, b = self.r("POST", "/v2/facts", {"statement": "HasPart(a b"})
        assert_error(self, st, b, 400, "invalid_statement")
        self.assertGreater(b["error"]["detail"]["column"], 0)
        st, _, b = self.r("POST", "/v2/facts", {"statement": 42})
        assert_error(self, st, b, 422, "invalid_fact")
        self.assertEqual(b["error"]["detail"]["field"], "statement")
        st, _, b = self.r("POST", "/v2/facts",
                          {"statement": "A(b)", "confidence": 1.5})
        assert_error(self, st, b, 422)
        self.assertEqual(b["error"]["detail"]["field"], "confidence")
        st, _, b = self.r("POST", "/v2/facts", {"predicate": "A",
                                                "args": ["x", 3]})
        assert_error(self, st, b, 422)
        self.assertEqual(b["error"]["detail"]["field"], "args[1]")
        st, _, b = self.r("POST", "/v2/facts", {"predicate": "9bad",
                                                "args": ["x"]})
        assert_error(self, st, b, 400)
        st, _, b = self.r("POST", "/v2/facts", {"source": "no content"})
        assert_error(self, st, b, 422)
        st, _, b = self.r("POST", "/v2/facts", [1, 2])
        assert_error(self, st, b, 422)
        st, _, b = self.r("POST", "/v2/facts", "")
        assert_error(self, st, b, 400, "invalid_json")
        st, _, b = self.r("POST", "/v2/facts", '{"statement":"A(b)"}',
                          headers={"Content-Type": "text/plain"})
        assert_error(self, st, b, 415, "unsupported_media_type")
        st, _, b = self.r("POST", "/v2/facts",
                          {"statement": "A(" + "x" * 70000 + ")"})
        assert_error(self, st, b, 413)

    def test_get_put_patch_delete(self):
        f = self.add("LocatedIn(Paris, France)")
        fid = f["id"]
        st, _, b = self.r("GET", "/v2/facts/%d" % fid)
        self.assertEqual((st, b["statement"]), (200, "LocatedIn(Paris, France)"))
        st, _, b = self.r("PUT", "/v2/facts/%d" % fid,
                          {"statement": "LocatedIn(Paris, Europe)",
                           "confidence": 0.9})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["id"], b["statement"], b["confidence"]),
                         (fid, "LocatedIn(Paris, Europe)", 0.9))
        other = self.add("LocatedIn(Lyon, France)")
        st, _, b = self.r("PUT", "/v2/facts/%d" % fid,
                          {"statement": "LocatedIn(Lyon, France)"})
        assert_error(self, st, b, 409, "conflict")
        self.assertEqual(b["error"]["detail"]["existing_id"], other["id"])
        st, _, b = self.r("PATCH", "/v2/facts/%d" % fid,
                          {"tags": ["geo"], "source": "atlas"})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["tags"], b["source"], b["statement"]),
                         (["geo"], "atlas", "LocatedIn(Paris, Europe)"))
        st, _, b = self.r("PATCH", "/v2/facts/%d" % fid, {})
        assert_error(self, st, b, 422)
        st, _, b = self.r("PATCH", "/v2/facts/%d" % fid,
                          {"statement": "X(y)"})
        assert_error(self, st, b, 422)
        st, _, b = self.r("GET", "/v2/facts/%d/history" % fid)
        self.assertEqual(st, 200, b)
        ops = [e["op"] for e in b["entries"]]
        self.assertEqual(ops[-1], "add")
        self.assertIn("update", ops)
        self.assertIn("meta", ops)
        self.assertEqual(b["entries"][0]["actor"], "anonymous")
        st, _, b = self.r("DELETE", "/v2/facts/%d" % fid)
        self.assertEqual((st, b["deleted"], b["id"]), (200, True, fid))
        self.assertEqual(b["fact"]["statement"], "LocatedIn(Paris, Europe)")
        for m, body in (("GET", None), ("DELETE", None),
                        ("PUT", {"statement": "Z(z)"}),
                        ("PATCH", {"confidence": 0.1})):
            st, _, b = self.r(m, "/v2/facts/%d" % fid, body)
            assert_error(self, st, b, 404, "not_found")
        for bad in ("0", "abc", "-1", "99999999999999999999999"):
            st, _, b = self.r("GET", "/v2/facts/" + bad)
            assert_error(self, st, b, 400, "invalid_id")
        st, _, b = self.r("GET", "/v2/facts/999999/history")
        assert_error(self, st, b, 404)

    def test_history_pages(self):
        # Created by a batch (its import entry covers the fact), then 24
        # confidence changes, with another fact's changes in between.
        st, _, b = self.r("POST", "/v2/facts/batch",
                          [{"statement": "Paged(h, %d)" % i}
                           for i in range(3)])
        self.assertEqual(st, 200, b)
        fid = b["results"][1]["id"]
        other = self.add("PagedOther(h)")["id"]
        for i in range(24):
            st, _, b = self.r("PATCH", "/v2/facts/%d" % fid,
                              {"confidence": round(0.5 + i / 100, 2)})
            self.assertEqual(st, 200, b)
            if i % 5 == 0:
                st, _, b = self.r("PATCH", "/v2/facts/%d" % other,
                                  {"confidence": round(0.2 + i / 100, 2)})
                self.assertEqual(st, 200, b)
        st, _, full = self.r("GET", "/v2/facts/%d/history?limit=100" % fid)
        self.assertEqual((st, full["count"], full["next_before"]),
                         (200, 25, None), full)
        seqs = [e["seq"] for e in full["entries"]]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        # Pages of 10: 10, 10, 5; each continues below the last seq of the
        # one before; the last has no cursor.
        got, before, sizes = [], None, []
        for _ in range(10):
            path = "/v2/facts/%d/history?limit=10" % fid
            if before is not None:
                path += "&before=%d" % before
            st, _, b = self.r("GET", path)
            self.assertEqual(st, 200, b)
            self.assertEqual(b["fact_id"], fid)
            self.assertEqual(b["count"], len(b["entries"]))
            sizes.append(b["count"])
            got += b["entries"]
            before = b["next_before"]
            if before is None:
                break
            self.assertEqual(before, b["entries"][-1]["seq"])
        self.assertEqual(sizes, [10, 10, 5])
        self.assertEqual(got, full["entries"])
        # A full last page: exactly 5 entries remain below seqs[19].
        st, _, b = self.r("GET", "/v2/facts/%d/history?limit=5&before=%d"
                          % (fid, seqs[19]))
        self.assertEqual((st, [e["seq"] for e in b["entries"]],
                          b["next_before"]), (200, seqs[20:], None), b)
        # below an entry's own seq, and between two entries
        st, _, b = self.r("GET", "/v2/facts/%d/history?limit=3&before=%d"
                          % (fid, seqs[4]))
        self.assertEqual(([e["seq"] for e in b["entries"]], b["next_before"]),
                         (seqs[5:8], seqs[7]))
        st, _, b = self.r("GET", "/v2/facts/%d/history?limit=100&before=%d"
                          % (fid, seqs[0] + 1000))
        self.assertEqual(b["entries"], full["entries"])
        # below the oldest: an empty last page, not a 404
        st, _, b = self.r("GET", "/v2/facts/%d/history?before=%d"
                          % (fid, seqs[-1]))
        self.assertEqual((st, b["entries"], b["count"], b["next_before"]),
                         (200, [], 0, None), b)
        st, _, b = self.r("GET", "/v2/facts/%d/history?before=1" % fid)
        self.assertEqual((st, b["entries"]), (200, []), b)
        for bad in ("zz", "0", "-1", "", "1.5", "99999999999999999999999"):
            st, _, b = self.r("GET", "/v2/facts/%d/history?before=%s"
                              % (fid, bad))
            assert_error(self, st, b, 400, "invalid_parameter")
            self.assertEqual(b["error"]["detail"]["field"], "before", b)
        st, _, b = self.r("GET", "/v2/facts/999999/history?before=5")
        assert_error(self, st, b, 404)

    def test_delete_by_statement(self):
        self.add("Temp(a, b)")
        st, _, b = self.r("DELETE", "/v2/facts?statement=" + q("Temp(a, b)"))
        self.assertEqual((st, b["deleted"]), (200, True), b)
        st, _, b = self.r("DELETE", "/v2/facts?statement=" + q("Temp(a, b)"))
        assert_error(self, st, b, 404)
        st, _, b = self.r("DELETE", "/v2/facts?statement=" + q("Temp(a"))
        assert_error(self, st, b, 400, "invalid_statement")
        st, _, b = self.r("DELETE", "/v2/facts")
        assert_error(self, st, b, 400)

    def test_batch_array_and_ndjson(self):
        items = [{"statement": "Batch(a, %d)" % i} for i in range(50)]
        items += ["Batch(a, 0)", "Broken(", {"statement": 5},
                  {"predicate": "Batch", "args": ["b", "c"]}]
        st, _, b = self.r("POST", "/v2/facts/batch", items)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["count"], b["created"], b["existing"], b["failed"]),
                         (54, 51, 1, 2))
        res = b["results"]
        self.assertEqual(res[50]["created"], False)
        self.assertEqual(res[50]["id"], res[0]["id"])
        self.assertEqual(res[51]["error"]["code"], "invalid_statement")
        self.assertEqual(res[52]["status"], 422)
        nd = '{"statement": "Nd(1)"}\n\n"Nd(2)"\nnot json\n'
        st, _, b = self.r("POST", "/v2/facts/batch", nd,
                          headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(st, 200, b)
        self.assertEqual((b["count"], b["created"], b["failed"]), (3, 2, 1))
        self.assertEqual(b["results"][2]["error"]["code"], "invalid_input")
        st, _, b = self.r("POST", "/v2/facts/batch", "[]")
        assert_error(self, st, b, 400)
        st, _, b = self.r("POST", "/v2/facts/batch", "[1,")
        assert_error(self, st, b, 400, "invalid_json")
        st, _, b = self.r("POST", "/v2/facts/batch", "x",
                          headers={"Content-Type": "text/csv"})
        assert_error(self, st, b, 415)

    def test_query_and_pagination(self):
        for i in range(25):
            self.add("PageTest(item%02d, box)" % i)
        st, _, b = self.r("GET", "/v2/query?q=" + q("PageTest(?x, box)") +
                          "&limit=10")
        self.assertEqual(st, 200, b)
        self.assertEqual(b["count"], 10)
        self.assertEqual(len(b["bindings"]), 10)
        seen = [x["x"] for x in b["bindings"]]
        cur = b["next_cursor"]
        pages = 1
        while cur:
            st, _, b = self.r("GET", "/v2/query?q=" + q("PageTest(?x, box)") +
                              "&limit=10&cursor=" + q(cur))
            self.assertEqual(st, 200, b)
            seen += [x["x"] for x in b["bindings"]]
            cur = b["next_cursor"]
            pages += 1
            self.assertLess(pages, 10)
        self.assertEqual(sorted(seen), ["item%02d" % i for i in range(25)])
        st, _, b = self.r("GET", "/v2/query?q=" + q("PageTest(?x"))
        assert_error(self, st, b, 400, "invalid_pattern")
        st, _, b = self.r("GET", "/v2/query")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/query?q=" + q("A(?x)") + "&limit=abc")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/query?q=" + q("A(?x)") +
                          "&limit=99999999")
        assert_error(self, st, b, 422, "limit_exceeded")
        st, _, b = self.r("GET", "/v2/query?q=" + q("A(?x)") +
                          "&cursor=" + q("garbage!!"))
        self.assertIn(st, (400,), b)
        st, _, b = self.r("GET", "/v2/facts?predicate=PageTest&limit=5")
        self.assertEqual((st, b["count"]), (200, 5), b)
        self.assertTrue(b["next_cursor"])
        st, _, b = self.r("GET", "/v2/facts?entity=box&position=1&limit=100")
        self.assertEqual((st, b["count"]), (200, 25), b)
        st, _, b = self.r("GET", "/v2/facts?entity=box&position=0")
        self.assertEqual((st, b["count"]), (200, 0), b)
        st, _, b = self.r("GET", "/v2/facts?entity=box&position=x")
        assert_error(self, st, b, 400)

    def test_entities_predicates_stats_search_audit(self):
        self.add("HasPart(Laptop, Keyboard)")
        self.add("Mentions(North Pacific, TCP/IP)")
        st, _, b = self.r("GET", "/v2/entities/" + q("TCP/IP"))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["entity"], "TCP/IP")
        self.assertEqual(b["facts"][0]["statement"],
                         "Mentions(North Pacific, TCP/IP)")
        st, _, b = self.r("GET", "/v2/entities/" + q("No Such Thing"))
        assert_error(self, st, b, 404)
        st, _, b = self.r("GET", "/v2/predicates?limit=1000")
        names = [p["name"] for p in b["predicates"]]
        self.assertIn("HasPart", names)
        st, _, b = self.r("GET", "/v2/stats")
        self.assertEqual(st, 200)
        self.assertGreater(b["facts"], 0)
        self.assertGreaterEqual(b["bytes_free"], 0)
        self.assertLessEqual(b["bytes_free"], b["bytes_on_disk"])
        st, _, b = self.r("GET", "/v2/search?q=" + q("has part laptop"))
        self.assertEqual(st, 200, b)
        self.assertEqual(b["results"][0]["fact"]["statement"],
                         "HasPart(Laptop, Keyboard)")
        st, _, b = self.r("GET", "/v2/search")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/audit?limit=3")
        self.assertEqual((st, b["count"]), (200, 3), b)
        nb = b["next_before"]
        st, _, b2 = self.r("GET", "/v2/audit?limit=3&before=%d" % nb)
        self.assertLess(b2["entries"][0]["seq"], nb)
        st, _, b = self.r("GET", "/v2/audit?before=zz")
        assert_error(self, st, b, 400)

    def test_backup(self):
        dest = os.path.join(self.s.root, "bk1")
        st, _, b = self.r("POST", "/v2/admin/backup", {"dest": dest})
        self.assertEqual(st, 201, b)
        self.assertEqual(len(b["sha256"]), 64)
        self.assertTrue(os.path.exists(os.path.join(dest, "MANIFEST.json")))
        st, _, b = self.r("POST", "/v2/admin/backup", {"dest": dest})
        self.assertGreaterEqual(st, 400)
        assert_error(self, st, b, st)
        st, _, b = self.r("POST", "/v2/admin/backup", {"dest": 7})
        assert_error(self, st, b, 422)

    def test_unknown_routes_and_methods(self):
        st, _, b = self.r("GET", "/v2/nothing")
        assert_error(self, st, b, 404, "not_found")
        st, _, b = self.r("GET", "/no-such-page.html")
        assert_error(self, st, b, 404)
        st, h, b = self.r("PUT", "/v2/stats")
        assert_error(self, st, b, 405, "method_not_allowed")
        self.assertIn("GET", h.get("allow", ""))
        st, h, b = self.r("GET", "/v2/facts/batch")
        assert_error(self, st, b, 405)
        self.assertIn("POST", h.get("allow", ""))

    def test_metrics_promtool(self):
        self.r("GET", "/v2/stats")
        st, h, text = self.r("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertIn("version=0.0.4", h["content-type"])
        for name in ("hakgal_http_requests_total",
                     "hakgal_http_request_duration_seconds_bucket",
                     "hakgal_facts_added_total", "hakgal_commit_group_size",
                     "hakgal_commit_duration_seconds", "hakgal_facts ",
                     "hakgal_store_file_bytes", "hakgal_store_free_bytes",
                     "hakgal_uptime_seconds",
                     "hakgal_build_info"):
            self.assertIn(name, text)
        self.assertIn('route="GET /v2/stats",status="200"', text)
        # connections are spread evenly over the two loops (round-robin)
        acc = [int(l.split()[-1]) for l in text.splitlines()
               if l.startswith("hakgal_connections_accepted_total{")]
        self.assertEqual(len(acc), 2, acc)
        self.assertLessEqual(max(acc) - min(acc), 1, acc)
        promtool = shutil.which("promtool")
        if not promtool:
            self.fail("promtool missing: install the Debian package "
                      "prometheus (scripts/deps.sh)")
        p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_request_duration(self):
        """The duration histogram measures a part of the client's round
        trip: its sum never exceeds the sum of the round trips the client
        saw for the same requests (h2o's cached request timestamp gave a
        0.1 ms round trip ~0.3 ms of server time)."""
        label = 'route="GET /healthz"'

        def healthz_sum_count():
            _, _, text = self.r("GET", "/metrics")
            got = {}
            for line in text.splitlines():
                if label in line and line.startswith(
                        "hakgal_http_request_duration_seconds_"):
                    kind = line.split("{")[0].rsplit("_", 1)[1]
                    got[kind] = float(line.split()[-1])
            return got.get("sum", 0.0), got.get("count", 0.0)

        s0, n0 = healthz_sum_count()
        c = self.s.conn()
        rtt, n = 0.0, 300
        for _ in range(n):
            t = time.perf_counter()
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            rtt += time.perf_counter() - t
            self.assertEqual(r.status, 200)
            time.sleep(0.0003)  # lands in the loop's millisecond of the last
        c.close()
        s1, n1 = healthz_sum_count()
        self.assertEqual(n1 - n0, n)
        self.assertGreater(s1 - s0, 0.0)
        self.assertLessEqual(s1 - s0, rtt,
                             "server %.1f us, client %.1f us per request" %
                             ((s1 - s0) / n * 1e6, rtt / n * 1e6))

    def test_openapi_lists_every_route(self):
        st, _, doc = self.r("GET", "/openapi.json")
        self.assertEqual(st, 200)
        self.assertTrue(doc["openapi"].startswith("3.1"))
        routes = {
            "/v2/facts": ["post", "get", "delete"],
            "/v2/facts/batch": ["post"],
            "/v2/facts/{id}": ["get", "put", "patch", "delete"],
            "/v2/facts/{id}/history": ["get"],
            "/v2/query": ["get"], "/v2/entities/{name}": ["get"],
            "/v2/predicates": ["get"], "/v2/stats": ["get"],
            "/v2/search": ["get"], "/v2/audit": ["get"],
            "/v2/admin/backup": ["post"], "/healthz": ["get"],
            "/readyz": ["get"], "/metrics": ["get"],
            "/openapi.json": ["get"],
        }
        for path, methods in routes.items():
            self.assertIn(path, doc["paths"])
            for m in methods:
                op = doc["paths"][path][m]
                self.assertIn("responses", op)
                # every documented operation is really answered (not 404)
                real = path.replace("{id}", "1").replace("{name}", "x")
                if m in ("get",) and "admin" not in path:
                    st, _, _ = self.r("GET", real)
                    self.assertNotEqual(st, 405, path)
        # every documented operation is answered by the server (no 405, no
        # "no such route" 404), whatever its status for this dummy request
        for path, ops in doc["paths"].items():
            real = path.replace("{id}", "1").replace("{name}", "x")
            for m in ops:
                self.assertIn(m, ("get", "post", "put", "patch", "delete"))
                if path == "/v2/admin/backup":
                    continue  # would write a backup beside the KB
                st, _, b = self.r(m.upper(), real, "{}" if m in
                                  ("post", "put", "patch") else None,
                                  headers={"Content-Type":
                                           "application/json"})
                self.assertNotEqual(st, 405, (m, path, b))
                if st == 404 and isinstance(b, dict):
                    self.assertNotEqual(b["error"]["message"],
                                        "no such route", (m, path))
        # and a method the table does not list is refused with 405
        st, _, b = self.r("PATCH", "/v2/query")
        assert_error(self, st, b, 405)
        for ref in ("Fact", "FactInput", "Error"):
            self.assertIn(ref, doc["components"]["schemas"])

    def test_cors_and_origins(self):
        st, h, _ = self.r("OPTIONS", "/v2/facts",
                          headers={"Origin": "http://localhost:3000"})
        self.assertEqual(st, 204)
        self.assertEqual(h["access-control-allow-origin"],
                         "http://localhost:3000")
        self.assertIn("POST", h["access-control-allow-methods"])
        self.assertIn("Authorization", h["access-control-allow-headers"])
        st, h, _ = self.r("GET", "/v2/stats",
                          headers={"Origin": "http://127.0.0.1:8000"})
        self.assertEqual(st, 200)
        self.assertEqual(h["access-control-allow-origin"],
                         "http://127.0.0.1:8000")
        st, _, b = self.r("GET", "/v2/stats",
                          headers={"Origin": "http://evil.example"})
        assert_error(self, st, b, 403, "forbidden_origin")
        st, _, b = self.r("POST", "/v2/facts", {"statement": "Cors(x)"},
                          headers={"Origin": "http://localhost.evil.example"})
        assert_error(self, st, b, 403, "forbidden_origin")
        st, _, b = self.r("OPTIONS", "/v2/nothing")
        assert_error(self, st, b, 404)

    def test_head_request(self):
        st, h, data = self.r("HEAD", "/healthz", raw=True)
        self.assertEqual((st, data), (200, b""))


class AuthServer(unittest.TestCase):
    """Tokens configured: writes need write, admin needs admin."""

    @classmethod
    def setUpClass(cls):
        os.makedirs(TMP, exist_ok=True)
        cls.tokfile = tempfile.NamedTemporaryFile("w", dir=TMP, delete=False,
                                                  suffix=".tokens")
        cls.tokfile.write("# name role sha256\n")
        cls.tokfile.write("reader read %s\n" % sha256_hex("r-secret"))
        cls.tokfile.write("writer write %s\n" % sha256_hex("w-secret"))
        cls.tokfile.close()
        cls.s = Server(["--tokens", cls.tokfile.name],
                       env={"HAKGAL_TOKEN_BOSS": "admin:" +
                            sha256_hex("a-secret")})

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        out = cls.s.output()
        cls.s.cleanup()
        os.unlink(cls.tokfile.name)
        if rc != 0:
            raise AssertionError("unclean exit %d:\n%s" % (rc, out))

    def r(self, method, path, body=None, token=None):
        h = {"Authorization": "Bearer " + token} if token else {}
        return self.s.request(method, path, body, headers=h)

    def test_writes_need_a_write_token(self):
        st, h, b = self.r("POST", "/v2/facts", {"statement": "Auth(a)"})
        assert_error(self, st, b, 401, "unauthorized")
        self.assertIn("Bearer", h.get("www-authenticate", ""))
        st, _, b = self.r("POST", "/v2/facts", {"statement": "Auth(a)"},
                          token="wrong")
        assert_error(self, st, b, 401)
        st, _, b = self.r("POST", "/v2/facts", {"statement": "Auth(a)"},
                          token="r-secret")
        assert_error(self, st, b, 403, "forbidden")
        st, _, b = self.r("POST", "/v2/facts", {"statement": "Auth(a)"},
                          token="w-secret")
        self.assertEqual(st, 201, b)
        fid = b["id"]
        st, _, b = self.r("GET", "/v2/facts/%d/history" % fid)
        self.assertEqual(b["entries"][0]["actor"], "writer")
        st, _, b = self.r("DELETE", "/v2/facts/%d" % fid, token="r-secret")
        assert_error(self, st, b, 403)

    def test_reads_open_without_read_auth(self):
        st, _, b = self.r("GET", "/v2/stats")
        self.assertEqual(st, 200, b)

    def test_admin_needs_admin(self):
        dest = os.path.join(self.s.root, "bk-auth")
        st, _, b = self.r("POST", "/v2/admin/backup", {"dest": dest},
                          token="w-secret")
        assert_error(self, st, b, 403)
        st, _, b = self.r("POST", "/v2/admin/backup", {"dest": dest},
                          token="a-secret")
        self.assertEqual(st, 201, b)

    def test_banner_and_health_without_token(self):
        self.assertIn("3 token(s)", self.s.output())
        st, _, _ = self.r("GET", "/healthz")
        self.assertEqual(st, 200)


class ReadAuthAndSettings(unittest.TestCase):

    def test_read_auth(self):
        s = Server(["--read-auth"], env={"HAKGAL_TOKEN_RO":
                                         "read:" + sha256_hex("ro")})
        try:
            st, _, b = s.request("GET", "/v2/stats")
            assert_error(self, st, b, 401)
            st, _, b = s.request("GET", "/v2/stats",
                                 headers={"Authorization": "Bearer ro"})
            self.assertEqual(st, 200, b)
            st, _, _ = s.request("GET", "/healthz")
            self.assertEqual(st, 200)
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()

    def test_non_loopback_without_tokens_is_refused(self):
        s = Server(listen="0.0.0.0:0", wait=False)
        try:
            rc = s.proc.wait(60)
            self.assertNotEqual(rc, 0)
            self.assertIn("--insecure", s.output())
        finally:
            s.kill()
            s.cleanup()

    def test_tls_and_http2_alpn(self):
        import socket
        import ssl
        root = tempfile.mkdtemp(prefix="tls-", dir=TMP)
        cert, key = os.path.join(root, "c.pem"), os.path.join(root, "k.pem")
        p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-subj", "/CN=localhost", "-days", "1",
                            "-keyout", key, "-out", cert],
                           capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        s = Server(["--tls-cert", cert, "--tls-key", key], wait=False)
        try:
            deadline = time.time() + START_TIMEOUT
            while s.port is None and time.time() < deadline:
                for line in s.output().splitlines():
                    if "listening on https://" in line:
                        s.port = int(line.split()[4].rsplit(":", 1)[1])
                time.sleep(0.05)
            self.assertIsNotNone(s.port, s.output())
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            ctx.set_alpn_protocols(["h2", "http/1.1"])
            for _ in range(200):
                try:
                    raw = socket.create_connection(("127.0.0.1", s.port), 10)
                    break
                except OSError:
                    time.sleep(0.05)
            with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                self.assertEqual(t.selected_alpn_protocol(), "h2")
            ctx1 = ssl.create_default_context(cafile=cert)
            ctx1.check_hostname = False
            c = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=30,
                                            context=ctx1)
            c.request("POST", "/v2/facts", body='{"statement": "Tls(ok)"}',
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            self.assertEqual(r.status, 201, r.read())
            r.read()
            c.close()
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()
            shutil.rmtree(root, ignore_errors=True)

    def test_query_timeout(self):
        s = Server(["--query-timeout-ms", "1"])
        try:
            st, _, b = s.request("POST", "/v2/facts/batch",
                                 ["Slow(n%d, x)" % i for i in range(6000)])
            self.assertEqual((st, b["created"]), (200, 6000), b)
            st, _, b = s.request("GET", "/v2/facts?predicate=Slow&limit=6000")
            assert_error(self, st, b, 503, "query_timeout")
            self.assertEqual(b["error"]["detail"]["limit_ms"], 1)
            st, _, b = s.request("GET", "/v2/facts?predicate=Slow&limit=10")
            self.assertEqual((st, b["count"]), (200, 10), b)
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()

    def test_port_in_use_is_refused(self):
        a = Server()
        try:
            b = Server(listen="127.0.0.1:%d" % a.port, wait=False)
            try:
                self.assertEqual(b.proc.wait(60), 4)  # in use
                self.assertIn("cannot listen", b.output())
            finally:
                b.kill()
                b.cleanup()
            st, _, _ = a.request("GET", "/healthz")
            self.assertEqual(st, 200)
        finally:
            self.assertEqual(a.stop(), 0, a.output())
            a.cleanup()

    def test_bad_token_file_is_refused(self):
        os.makedirs(TMP, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=TMP, delete=False) as f:
            f.write("alice superuser %s\n" % sha256_hex("x"))
        s = Server(["--tokens", f.name], wait=False)
        try:
            self.assertNotEqual(s.proc.wait(60), 0)
            self.assertIn("role", s.output())
        finally:
            s.kill()
            s.cleanup()
            os.unlink(f.name)

    def test_precedence_flags_env_file(self):
        os.makedirs(TMP, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=TMP, delete=False,
                                         suffix=".conf") as f:
            f.write("# settings\nmax-batch = 3\ndefault-limit = 2\n"
                    "max-limit = 50\n")
        # file says max-batch 3, env says 4, flag says 5 -> 5
        s = Server(["--config", f.name, "--max-batch", "5", "--max-args",
                    "3"],
                   env={"HAKGAL_MAX_BATCH": "4", "HAKGAL_MAX_LIMIT": "40"})
        try:
            st, _, b = s.request("POST", "/v2/facts/batch",
                                 ["P(%d)" % i for i in range(6)])
            assert_error(self, st, b, 413, "batch_too_large")
            self.assertEqual(b["error"]["detail"]["limit"], 5)
            st, _, b = s.request("POST", "/v2/facts/batch",
                                 ["P(%d)" % i for i in range(5)])
            self.assertEqual(st, 200, b)
            st, _, b = s.request("GET", "/v2/facts?predicate=P")
            self.assertEqual(b["count"], 2)  # default-limit from the file
            st, _, b = s.request("GET", "/v2/facts?predicate=P&limit=45")
            assert_error(self, st, b, 422)  # env max-limit 40 beats file 50
            st, _, b = s.request("POST", "/v2/facts",
                                 {"statement": "Four(a, b, c, d)"})
            assert_error(self, st, b, 422)
            self.assertEqual(b["error"]["detail"]["field"], "args")
            st, _, b = s.request("POST", "/v2/facts",
                                 {"statement": "Three(a, b, c)"})
            self.assertEqual(st, 201, b)
            st, _, b = s.request("POST", "/v2/facts/batch",
                                 ["Four(a, b, c, d)", "Two(a, b)"])
            self.assertEqual((st, b["failed"], b["created"]), (200, 1, 1), b)
            self.assertEqual(b["results"][0]["error"]["code"],
                             "limit_exceeded")
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()
            os.unlink(f.name)

    def test_allowed_hosts_and_origins(self):
        s = Server(["--allowed-hosts", "kb.example,127.0.0.1",
                    "--allowed-origins", "https://app.example"])
        try:
            st, _, b = s.request("GET", "/v2/stats")
            self.assertEqual(st, 200, b)
            st, _, b = s.request("GET", "/v2/stats",
                                 headers={"Host": "rebind.example"})
            assert_error(self, st, b, 403, "forbidden_host")
            st, _, b = s.request("GET", "/v2/stats",
                                 headers={"Host": "kb.example:8080",
                                          "Origin": "https://app.example"})
            self.assertEqual(st, 200, b)
            st, _, b = s.request("GET", "/v2/stats",
                                 headers={"Origin": "https://other.example"})
            assert_error(self, st, b, 403, "forbidden_origin")
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()

    def test_access_log_and_bad_config(self):
        os.makedirs(TMP, exist_ok=True)
        log = os.path.join(TMP, "access-%d.log" % os.getpid())
        s = Server(["--access-log", log])
        try:
            s.request("GET", "/v2/stats")
            s.request("GET", "/v2/nothing")
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()
        with open(log) as f:
            lines = f.read().splitlines()
        os.unlink(log)
        self.assertTrue(any(l.startswith("GET /v2/stats GET /v2/stats 200")
                            for l in lines), lines)
        self.assertTrue(any(" 404 " in l for l in lines), lines)
        with tempfile.NamedTemporaryFile("w", dir=TMP, delete=False,
                                         suffix=".conf") as f:
            f.write("listen = 127.0.0.1:0\nno-such-setting = 1\n")
        p = subprocess.run([BIN, "serve", "--config", f.name],
                           capture_output=True, timeout=30)
        os.unlink(f.name)
        self.assertEqual(p.returncode, 2)
        self.assertIn(":2: unknown setting", p.stderr.decode())

    def test_new_token_works_with_the_server(self):
        p = subprocess.run([BIN, "serve", "--new-token", "ci-bot", "write"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = p.stdout.decode().strip()
        name, role, digest = line.split()
        self.assertEqual((name, role, len(digest)), ("ci-bot", "write", 64))
        token = p.stderr.decode().strip().rsplit(" ", 1)[1]
        self.assertEqual(sha256_hex(token), digest)
        self.assertNotIn(token, line)  # the file line never holds the token
        os.makedirs(TMP, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=TMP, delete=False) as f:
            f.write(line + "\n")
        s = Server(["--tokens", f.name])
        try:
            st, _, b = s.request("POST", "/v2/facts", {"statement": "Bot(x)"},
                                 headers={"Authorization": "Bearer " + token})
            self.assertEqual(st, 201, b)
            st, _, b = s.request("GET", "/v2/facts/%d/history" % b["id"])
            self.assertEqual(b["entries"][0]["actor"], "ci-bot")
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()
            os.unlink(f.name)
        p = subprocess.run([BIN, "serve", "--new-token", "x", "root"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)

    def test_help_documents_every_option(self):
        p = subprocess.run([BIN, "serve", "--help"], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0)
        out = p.stdout.decode()
        for opt in ("--data", "--listen", "--threads", "--config", "--tokens",
                    "--insecure", "--tls-cert", "--tls-key", "--read-auth",
                    "--max-body", "--max-batch", "--max-statement",
                    "--query-timeout-ms", "HAKGAL_"):
            self.assertIn(opt, out)
        p = subprocess.run([BIN, "serve", "--no-such-flag"],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 1)  # usage error
        self.assertIn("unknown option", p.stderr.decode())


if __name__ == "__main__":
    run_tests(__name__)
