#!/usr/bin/env python3
"""W3C trace context through the replication log: a write with a
`traceparent` on node A of two replicated nodes (mock cluster) produces
its command with a `traceparent` header naming A's request span; both
nodes apply the command in a span "replicate.apply" of the same trace
whose parent is that request span. Spans are received by a local
OTLP/HTTP (JSON) receiver. A write without a traceparent still applies
(no header needed).
"""
import json
import os
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import run_tests  # noqa: E402
from test_replication_follow import MOCK, NodesCase, have_client  # noqa: E402

TOPIC = "hakgal.replica"  # the mock helper creates it with 1 partition
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


class Receiver(BaseHTTPRequestHandler):
    spans = []
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        got = []
        for rs in body.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                got.extend(ss.get("spans", []))
        with Receiver.lock:
            Receiver.spans.extend(got)
        out = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@unittest.skipUnless(MOCK and os.path.exists(MOCK), "HK_KAFKA_MOCK_BIN unset")
@unittest.skipUnless(have_client(), "python3-confluent-kafka not installed")
class Traced(NodesCase):

    def setUp(self):
        self.rcv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self.rcv.serve_forever, daemon=True).start()
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT":
               "http://127.0.0.1:%d" % self.rcv.server_address[1],
               "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
               "OTEL_BSP_SCHEDULE_DELAY": "100",
               "OTEL_TRACES_SAMPLER": "parentbased_always_on"}
        self.start_nodes(n=2, timeout_ms=None, env=env)

    def tearDown(self):
        try:
            self.stop_nodes()
        finally:
            self.rcv.shutdown()
            self.rcv.server_close()

    def spans_of(self, trace):
        with Receiver.lock:
            return [s for s in Receiver.spans if s.get("traceId") == trace]

    def test_apply_span_is_child_of_the_request(self):
        st, _, b = self.nodes[0].request(
            "POST", "/v2/facts", {"statement": "Traced(a, b)"},
            headers={"traceparent": "00-%s-%s-01" % (TRACE, PARENT)})
        self.assertEqual(st, 201, b)
        st, _, b = self.nodes[1].request(
            "POST", "/v2/facts", {"statement": "Untraced(a)"})
        self.assertEqual(st, 201, b)
        deadline = time.time() + 60
        server = applies = None
        while time.time() < deadline:
            sp = self.spans_of(TRACE)
            server = [s for s in sp if s["name"] == "POST /v2/facts"]
            applies = [s for s in sp if s["name"] == "replicate.apply"]
            if server and len(applies) >= 2:
                break
            time.sleep(0.1)
        self.assertEqual(len(server), 1, self.spans_of(TRACE))
        self.assertEqual(server[0]["parentSpanId"], PARENT)
        self.assertEqual(len(applies), 2, applies)  # one per node
        for a in applies:
            self.assertEqual(a["parentSpanId"], server[0]["spanId"])
        # both facts are on both nodes
        for s in self.nodes:
            for stmt in ("Traced(a, b)", "Untraced(a)"):
                until = time.time() + 30
                while time.time() < until:
                    st, _, b = s.request("GET", "/v2/facts?predicate=%s" %
                                         stmt.split("(")[0])
                    if st == 200 and b["facts"]:
                        break
                    time.sleep(0.05)
                self.assertEqual(b["facts"][0]["statement"], stmt)


if __name__ == "__main__":
    run_tests(__name__)
