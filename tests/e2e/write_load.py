"""A write load for the durability tests: writer threads on keep-alive
connections that POST unique single facts (predicate Dur) or batches of
20 (predicate Bat) until stopped, and record each acknowledged statement
as soon as its answer arrives, so that a test can wait for "enough
acknowledged writes" instead of a fixed time.

Shared by test_server_durability.py, its pipelined variant and
test_server_durability_wal.py.
"""
import http.client
import json
import threading
import time


def single_writer(port, wid, stop, acked, errors):
    """POSTs unique facts until stop is set or the server goes away."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    try:
        while not stop.is_set():
            stmt = "Dur(w%d, n%d)" % (wid, i)
            body = json.dumps({"statement": stmt, "source": "w%d" % wid})
            try:
                conn.request("POST", "/v2/facts", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                break  # the server was killed
            if r.status == 201:
                acked.append(stmt)  # list.append is atomic
            else:
                errors.append((r.status, data))
            i += 1
    finally:
        conn.close()


def batch_writer(port, wid, stop, acked, errors):
    """POSTs batches of 20 facts until stop is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    try:
        while not stop.is_set():
            stmts = ["Bat(w%d, n%d_%d)" % (wid, i, k) for k in range(20)]
            try:
                conn.request("POST", "/v2/facts/batch",
                             body=json.dumps(stmts),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                break
            if r.status in (200, 201):
                acked.extend(stmts)
            else:
                errors.append((r.status, data))
            i += 1
    finally:
        conn.close()


class Load:
    """Writer threads against port: `writers` of them, writer(i) picks
    each one's function (single_writer by default). acked and errors fill
    while they run."""

    def __init__(self, port, writers, first_id=0, writer=None):
        self.acked, self.errors = [], []
        self.stop_event = threading.Event()
        pick = writer or (lambda i: single_writer)
        self.threads = [threading.Thread(
            target=pick(w),
            args=(port, first_id + w, self.stop_event, self.acked,
                  self.errors)) for w in range(writers)]
        for t in self.threads:
            t.start()

    def wait_acked(self, n, timeout):
        """Waits until more than n writes were acknowledged (or timeout
        seconds: a loaded machine acknowledges slowly); returns the
        count."""
        deadline = time.monotonic() + timeout
        while len(self.acked) <= n and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.acked)

    def stop(self):
        """Stops the writers and waits for them (bounded)."""
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
