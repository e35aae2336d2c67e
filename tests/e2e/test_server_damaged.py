#!/usr/bin/env python3
"""A data file damaged under a running server never ends the process.

`hakgal serve` has a KB open; the test truncates data.mdb to a few pages
(as a full disk, an operator's mistake or a failing volume would) and then
reads through REST. Every read that touches a missing page must answer
500 kb_damaged with a message that says to restore from a backup, the
process must stay up (/healthz answers 200), /readyz must say 503
kb_damaged from then on, and SIGTERM must still stop the server. A
restart on the damaged file is refused with the store's "damaged" error
(exit 5), as the CLI does.
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server  # noqa: E402


class DamagedWhileServing(unittest.TestCase):
    def test_truncated_file_answers_500_and_keeps_serving(self):
        # A read abandoned by a fault leaks what it had allocated; that is
        # the documented price of staying up, so leak checking is off here.
        srv = Server(env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"})
        try:
            r = srv.request
            facts = ["Damaged%d(x%d, %s)" % (i % 7, i, "y" * 200)
                     for i in range(3000)]
            st, _, b = r("POST", "/v2/facts/batch",
                         {"facts": [{"statement": s} for s in facts]})
            self.assertIn(st, (200, 201), b)
            st, _, b = r("GET", "/v2/facts?limit=5")
            self.assertEqual(st, 200, b)
            # Deep verification runs on a worker thread and says ok.
            st, _, b = r("GET", "/v2/admin/verify?deep=1")
            self.assertEqual((st, b["ok"], b["deep"]), (200, True, True), b)
            st, _, b = r("GET", "/v2/admin/verify")
            self.assertEqual((st, b["ok"], b["deep"]), (200, True, False), b)
            st, _, b = r("GET", "/v2/admin/verify?deep=maybe")
            self.assertEqual(st, 400, b)
            os.truncate(os.path.join(srv.data, "data.mdb"), 3 * 4096)
            statuses = set()
            for path in ("/v2/facts?limit=1000", "/v2/stats",
                         "/v2/facts/2000", "/v2/predicates",
                         "/v2/export", "/v2/facts?predicate=Damaged3"):
                st, _, b = r("GET", path)
                statuses.add(st)
                if st == 500:
                    self.assertEqual(b["error"]["code"], "kb_damaged", b)
                    self.assertIn("restore it from a backup",
                                  b["error"]["message"])
            self.assertIn(500, statuses, "no read touched a missing page")
            # A deep check of the truncated file reports it (its own guard)
            # or is abandoned as damaged; it never ends the process.
            st, _, b = r("GET", "/v2/admin/verify?deep=1")
            self.assertTrue((st == 200 and b["ok"] is False) or
                            (st == 500 and b["error"]["code"] ==
                             "kb_damaged"), (st, b))
            self.assertIsNone(srv.proc.poll(), "the server died:\n" +
                              srv.output())
            st, _, b = r("GET", "/healthz")
            self.assertEqual(st, 200, b)
            st, _, b = r("GET", "/readyz")
            self.assertEqual(st, 503, b)
            self.assertEqual(b["error"]["code"], "kb_damaged")
            self.assertIn("knowledge base damaged", srv.output())
        finally:
            rc = srv.stop()
            out = srv.output()
            srv.cleanup()
        self.assertNotIn("Sanitizer", out)
        self.assertIn(rc, (0, 5), out)

    def test_damage_error_lines_carry_the_trace_id(self):
        # With JSON logs, the error line a request's fault causes is a JSON
        # object with that request's trace id (its W3C traceparent's).
        srv = Server(args=["--access-log-json"],
                     env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1"})
        try:
            facts = ["Damaged%d(x%d, %s)" % (i % 7, i, "y" * 200)
                     for i in range(3000)]
            st, _, b = srv.request("POST", "/v2/facts/batch",
                                   {"facts": [{"statement": s}
                                              for s in facts]})
            self.assertIn(st, (200, 201), b)
            os.truncate(os.path.join(srv.data, "data.mdb"), 3 * 4096)
            sent = set()
            for i, path in enumerate(("/v2/facts?limit=1000", "/v2/stats",
                                      "/v2/facts/2000", "/v2/predicates")):
                tid = "%032x" % (0xabc0 + i)
                sent.add(tid)
                srv.request("GET", path, headers={
                    "traceparent": "00-%s-%016x-01" % (tid, 7 + i)})
            lines = [json.loads(line) for line in srv.output().splitlines()
                     if line.startswith("{") and '"level":"error"' in line]
            self.assertTrue(lines, srv.output())
            for line in lines:
                self.assertIn("knowledge base damaged", line["msg"])
            traced = [line for line in lines if line["trace_id"]]
            self.assertTrue(traced, lines)
            for line in traced:
                self.assertIn(line["trace_id"], sent)
                self.assertRegex(line["span_id"], "^[0-9a-f]{16}$")
        finally:
            srv.stop()
            srv.cleanup()

    def test_restart_on_the_damaged_file_is_refused(self):
        srv = Server()
        try:
            st, _, b = srv.request("POST", "/v2/facts",
                                   {"statement": "Keep(this)"})
            self.assertEqual(st, 201, b)
        finally:
            self.assertEqual(srv.stop(), 0, srv.output())
        os.truncate(os.path.join(srv.data, "data.mdb"), 4096)
        p = subprocess.run([BIN, "serve", "--data", srv.data, "--listen",
                            "127.0.0.1:0"], capture_output=True, timeout=60)
        srv.cleanup()
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn(b"damaged", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
