#!/usr/bin/env python3
"""Bad-input corpus for `hakgal serve`: malformed JSON, wrong types,
invalid UTF-8, huge bodies, deep nesting, odd paths and methods, raw
garbage on the socket, slow and idle clients, random bytes. Every request
must get the right status with a JSON error body (where HTTP allows a
body), and the server must keep serving and keep its data intact.
"""
import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import (LSAN_SUPP, TMP, BIN, Server,  # noqa: E402
                             assert_error, q, run_tests)

MAX_BODY = 65536


class DescriptorExhaustion(unittest.TestCase):

    def test_out_of_descriptors_does_not_spin(self):
        import shutil as sh
        prlimit = sh.which("prlimit")
        if not prlimit:
            self.skipTest("prlimit (util-linux) missing")
        root = tempfile.mkdtemp(prefix="fd-", dir=TMP)
        log = open(os.path.join(root, "log"), "wb")
        env = dict(os.environ)
        env["LSAN_OPTIONS"] = "suppressions=%s" % LSAN_SUPP
        p = subprocess.Popen([prlimit, "--nofile=64:64", BIN, "serve",
                              "--data", os.path.join(root, "kb"), "--listen",
                              "127.0.0.1:0", "--threads", "1",
                              "--request-timeout-ms", "2000"],
                             stdout=log, stderr=log, env=env)
        try:
            port = None
            for _ in range(1200):
                with open(os.path.join(root, "log")) as f:
                    for line in f:
                        if "listening on" in line:
                            port = int(line.split()[4].rsplit(":", 1)[1])
                if port:
                    break
                time.sleep(0.05)
            self.assertIsNotNone(port)
            socks = [socket.create_connection(("127.0.0.1", port), 5)
                     for _ in range(100)]
            time.sleep(0.5)

            def ticks():
                with open("/proc/%d/stat" % p.pid) as f:
                    v = f.read().rsplit(")", 1)[1].split()
                return int(v[11]) + int(v[12])

            t0 = ticks()
            time.sleep(1)
            # a spinning accept loop would burn ~100 ticks per second
            self.assertLess(ticks() - t0, 30)
            for s in socks:
                s.close()
            ok = False
            for _ in range(100):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port,
                                                   timeout=5)
                    c.request("GET", "/healthz")
                    ok = c.getresponse().status == 200
                    c.close()
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertTrue(ok)
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(60)
            log.close()
            shutil.rmtree(root, ignore_errors=True)
        self.assertEqual(rc, 0)


class BadInput(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.s = Server(["--max-body", str(MAX_BODY), "--max-batch", "100",
                        "--request-timeout-ms", "1000"])
        st, _, b = cls.s.request("POST", "/v2/facts",
                                 {"statement": "Anchor(keep, me)"})
        assert st == 201, b
        cls.anchor = b["id"]

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        out = cls.s.output()
        cls.s.cleanup()
        if rc != 0:
            raise AssertionError("unclean exit %d:\n%s" % (rc, out))

    def r(self, *a, **k):
        return self.s.request(*a, **k)

    def alive(self):
        st, _, b = self.r("GET", "/v2/facts/%d" % self.anchor)
        self.assertEqual((st, b["statement"]), (200, "Anchor(keep, me)"))

    def tearDown(self):
        self.alive()

    def test_malformed_json(self):
        corpus = ['{', '}', '{"statement": }', '{"statement": "A(b)",}',
                  '{"statement": "A(b)"} trailing', 'null', 'nul',
                  '{"statement": NaN}', '{"statement": "A(b)", '
                  '"statement": "B(c)"}', "{'statement': 'A(b)'}",
                  '\x00\x01\x02', '{"statement": "A(b)\\u0000x"}',
                  '{"a":' * 5 + '1' + '}' * 5 + '}', '[' * 60000,
                  '{"x":' * 12000]
        for body in corpus:
            st, _, b = self.r("POST", "/v2/facts", body)
            self.assertIn(st, (400, 422), (body[:40], st, b))
            assert_error(self, st, b, st)

    def test_wrong_types(self):
        corpus = [{"statement": ["A(b)"]}, {"statement": None},
                  {"statement": {"x": 1}}, {"statement": True},
                  {"predicate": 1, "args": ["a"]},
                  {"predicate": "P", "args": "a"},
                  {"predicate": "P", "args": []},
                  {"predicate": "P", "args": ["a"] * 33},
                  {"predicate": "P", "subject": 5},
                  {"predicate": "P", "subject": "a", "object": [1]},
                  {"predicate": "P", "args": ["a"], "subject": "b"},
                  {"statement": "A(b)", "predicate": "A"},
                  {"statement": "A(b)", "confidence": "high"},
                  {"statement": "A(b)", "confidence": -0.1},
                  {"statement": "A(b)", "tags": "x"},
                  {"statement": "A(b)", "tags": [1]},
                  {"statement": "A(b)", "tags": ["t"] * 33},
                  {"statement": "A(b)", "source": 3},
                  {"statement": "A(b)", "context": "text"},
                  {"statement": "A(b)", "context": [1]},
                  {"predicate": "P", "args": ["a\u0000b"]},
                  {"predicate": "", "args": ["a"]},
                  {"predicate": "P", "args": [""]},
                  {"predicate": "P", "args": ["tab\there"]},
                  {"predicate": "P", "args": ["x" * 5000]},
                  "just a string", 42, [], {}]
        for body in corpus:
            st, _, b = self.r("POST", "/v2/facts", body)
            self.assertIn(st, (400, 422), (body, st, b))
            assert_error(self, st, b, st)
        for body in ({"confidence": "x"}, {"tags": {}}, {"source": []}):
            st, _, b = self.r("PATCH", "/v2/facts/%d" % self.anchor, body)
            assert_error(self, st, b, 422)

    def test_statement_syntax_errors_have_columns(self):
        for stmt in ("HasPart(a, b", "HasPart a, b)", "(a, b)", "Has Part(a)",
                     "HasPart()", "HasPart(a,, b)", 'P("unterminated)',
                     "P(a) extra", "P(a)..", "9P(a)", ""):
            st, _, b = self.r("POST", "/v2/facts", {"statement": stmt})
            self.assertEqual(st, 400, (stmt, b))
            assert_error(self, st, b, 400)
            if stmt:
                self.assertGreater(b["error"]["detail"].get("column", 0), 0,
                                   (stmt, b))

    def test_invalid_utf8(self):
        for raw in (b'{"statement": "A(\xff)"}', b'{"statement": "A(\xc3)"}',
                    b'{"statement": "A(\xed\xa0\x80)"}',
                    b'{"statement": "A(\xc0\xaf)"}'):
            st, _, b = self.r("POST", "/v2/facts", raw)
            assert_error(self, st, b, 400, "invalid_json")
        st, _, b = self.r("GET", "/v2/query?q=A(%FF)")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/search?q=%C3")
        assert_error(self, st, b, 400)
        st, _, b = self.r("DELETE", "/v2/facts?statement=A(%FE)")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/query?q=A(%00)")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/query?q=A(%ZZ)")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/entities/%FF%FE")
        assert_error(self, st, b, 404)

    def test_huge_bodies(self):
        big = '{"statement": "A(' + "x" * (MAX_BODY + 10) + ')"}'
        st, _, b = self.r("POST", "/v2/facts", big)
        assert_error(self, st, b, 413, "body_too_large")
        self.assertEqual(b["error"]["detail"]["limit"], MAX_BODY)
        # Far beyond the limit h2o refuses before reading it all.
        st, _, b = self.r("POST", "/v2/facts", "x" * (MAX_BODY * 4),
                          headers={"Content-Type": "application/json"})
        assert_error(self, st, b, 413, "body_too_large")
        st, _, b = self.r("POST", "/v2/facts/batch",
                          ["P(%d)" % i for i in range(101)])
        assert_error(self, st, b, 413, "batch_too_large")
        nd = "\n".join('"P(%d)"' % i for i in range(101))
        st, _, b = self.r("POST", "/v2/facts/batch", nd,
                          headers={"Content-Type": "application/x-ndjson"})
        assert_error(self, st, b, 413, "batch_too_large")
        st, _, b = self.r("GET", "/v2/query?q=" + q("A(" + "y" * 70000 + ")"))
        self.assertIn(st, (400, 413, 414, 431), b)

    def test_paths_and_methods(self):
        cases = [("GET", "/v2"), ("GET", "/v2/"), ("GET", "/v2/facts/"),
                 ("GET", "/v2/facts/1/history/extra"),
                 ("GET", "/v2/facts//1"), ("GET", "/../../etc/passwd"),
                 ("GET", "/v2/entities/"), ("GET", "/%00"),
                 ("POST", "/v2/stats"), ("BREW", "/v2/facts"),
                 ("OPTIONS", "/v2/nothing"), ("TRACE", "/healthz"),
                 ("GET", "/v2/facts/1%2F2"), ("GET", "/" + "a" * 4000)]
        for m, p in cases:
            st, _, b = self.r(m, p)
            self.assertIn(st, (400, 404, 405), (m, p, st, b))
            assert_error(self, st, b, st)
        st, _, b = self.r("GET", "/v2/facts?limit=0")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/facts?limit=-5")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/facts?arity=99")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/facts?order=sideways")
        assert_error(self, st, b, 400)
        st, _, b = self.r("GET", "/v2/facts?position=1")
        assert_error(self, st, b, 400)

    def raw(self, data, read=True, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.s.port), timeout)
        try:
            s.sendall(data)
            if not read:
                return b""
            out = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                out += chunk
            return out
        finally:
            s.close()

    def test_raw_garbage_on_the_socket(self):
        rng = random.Random(7)
        for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 10,
                     b"GET / HTTP/9.9\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     b"-1\r\n\r\n",
                     b"POST /v2/facts HTTP/1.1\r\nHost: x\r\nTransfer-"
                     b"Encoding: chunked\r\n\r\nzz\r\n",
                     b"\r\n\r\n\r\n",
                     bytes(rng.randrange(256) for _ in range(4096)),
                     b"GET /healthz HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000 +
                     b"\r\n"):
            self.raw(data, timeout=5)
        self.alive()

    def test_slow_and_idle_clients(self):
        # Idle connections and a slowloris client do not block others and
        # are closed after the request timeout (1 s here).
        idle = [socket.create_connection(("127.0.0.1", self.s.port), 10)
                for _ in range(20)]
        slow = socket.create_connection(("127.0.0.1", self.s.port), 10)
        slow.sendall(b"POST /v2/facts HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        for _ in range(20):
            self.alive()
        self.assertLess(time.time() - t0, 5)
        # A body that never finishes is cut off.
        slow.sendall(b"Content-Length: 100\r\n\r\n{\"statement\":")
        slow.settimeout(8)
        t0 = time.time()
        got = b""
        try:
            while True:
                chunk = slow.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            self.fail("slow client was never closed")
        self.assertLess(time.time() - t0, 8)
        for s in idle + [slow]:
            s.close()

    def test_random_bodies_never_break_the_server(self):
        rng = random.Random(20261126)
        pieces = ['{', '}', '[', ']', '"statement"', ':', ',', '"A(b)"',
                  '"P(', ')"', 'null', '1e999', '-0', '"\\u00e9"',
                  '"\\ud800"', '"predicate"', '"args"', '["x"]', '"tags"',
                  '"confidence"', '0.5', 'true', ' ', '\n']
        routes = [("POST", "/v2/facts"), ("POST", "/v2/facts/batch"),
                  ("PUT", "/v2/facts/%d" % self.anchor),
                  ("PATCH", "/v2/facts/%d" % self.anchor)]
        for i in range(300):
            if i % 3 == 0:
                body = bytes(rng.randrange(256)
                             for _ in range(rng.randrange(1, 200)))
            else:
                body = "".join(rng.choice(pieces)
                               for _ in range(rng.randrange(1, 30))).encode()
            m, p = rng.choice(routes)
            if p.startswith("/v2/facts/%d" % self.anchor) and m == "PUT":
                continue  # a valid PUT could legitimately change the anchor
            st, h, b = self.r(m, p, body,
                              headers={"Content-Type": "application/json"})
            self.assertLess(st, 500, (m, p, body, b))
            if st >= 400:
                assert_error(self, st, b, st)

    def test_many_concurrent_bad_requests(self):
        errors = []

        def hammer(k):
            try:
                for i in range(30):
                    st, _, b = self.r("POST", "/v2/facts",
                                      '{"statement": "Bad(%d' % i)
                    if st != 400:
                        errors.append(st)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        ts = [threading.Thread(target=hammer, args=(k,)) for k in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(errors, [])


if __name__ == "__main__":
    run_tests(__name__)
