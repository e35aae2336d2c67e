"""Unit tests of the Python SDK against answers a real server never
sends, from a local http.server (the live test covers the real server).
Run: python3 -m unittest discover -s sdk/python/tests -p 'test_*.py'"""
import http.server
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from hakgal_client import Client, HakgalError, TransportError  # noqa: E402

FACT = {"id": 1, "statement": "P(a)", "predicate": "P", "args": ["a"]}


class Canned(http.server.ThreadingHTTPServer):
    """Answers request i with answers[i] = (status, headers, body, close);
    close=True drops the connection after the answer without saying so
    (as a server whose idle keep-alive timeout fired)."""

    daemon_threads = True

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers = list(answers)
        self.n = 0
        self.connections = set()
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            status, headers, body, close = srv.answers[srv.n]
            srv.n += 1
            srv.connections.add(self.client_address)
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = close


class ClientEdges(unittest.TestCase):
    def serve(self, answers):
        s = Canned(answers)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        self.addCleanup(s.server_close)
        self.addCleanup(s.shutdown)
        return s, Client("http://127.0.0.1:%d" % s.server_port,
                         backoff=0.001)

    def test_error_body_not_json(self):
        _, kb = self.serve([(500, [], b"stack trace here", False)])
        with self.assertRaises(HakgalError) as cm:
            kb.get(1)
        e = cm.exception
        self.assertEqual((e.status, e.code), (500, "http_500"))
        self.assertIn("stack trace here", e.message)

    def test_answer_not_json(self):
        _, kb = self.serve([(200, [], b"{not json", False)])
        with self.assertRaises(TransportError) as cm:
            kb.get(1)
        self.assertEqual((cm.exception.status, cm.exception.code),
                         (0, "invalid_answer"))

    def test_retry_after_date_falls_back_to_backoff(self):
        s, kb = self.serve([
            (503, [("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
             {"error": {"code": "busy", "message": "m", "detail": None}},
             False),
            (200, [], FACT, False)])
        self.assertEqual(kb.get(1).statement, "P(a)")
        self.assertEqual(s.n, 2)

    def test_keepalive_connection_closed_by_server_is_replaced(self):
        s, kb = self.serve([(200, [], FACT, True), (200, [], FACT, False),
                            (200, [], FACT, False)])
        for _ in range(3):
            self.assertEqual(kb.get(1).id, 1)
        self.assertEqual(s.n, 3)  # nothing was sent twice
        self.assertEqual(len(s.connections), 2)  # the second call reconnected

    def test_connection_refused(self):
        s, kb = self.serve([])
        s.shutdown()
        s.server_close()
        with self.assertRaises(TransportError) as cm:
            kb.stats()
        self.assertEqual(cm.exception.code, "connection")

    def test_bad_base_url(self):
        with self.assertRaises(ValueError):
            Client("ftp://example.org")


if __name__ == "__main__":
    unittest.main()
