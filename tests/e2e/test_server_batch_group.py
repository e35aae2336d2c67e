#!/usr/bin/env python3
"""Batches sent at the same time may share one commit of the group-commit
writer (src/server/server_writer.c: solo jobs queued in a row). Whatever
the grouping, each batch must get the import audit entry its own
transaction gives it: its own range of fact ids, its count, the chain
intact (`hakgal verify --deep`), and an item that fails inside one batch
must not affect the batches around it.

    HAKGAL_BIN=build/hakgal python3 tests/e2e/test_server_batch_group.py
"""
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server  # noqa: E402

CLIENTS = 8
SIZE = 2000


def batch(c):
    items = [{"statement": "G(t%d_%d, y%d)" % (c, i, i % 50)}
             for i in range(SIZE)]
    if c == 3:
        items[7] = {"statement": "not a statement ("}  # fails alone
    return json.dumps(items).encode()


class BatchGroup(unittest.TestCase):
    def test_concurrent_batches_keep_their_entries(self):
        s = Server()
        try:
            bodies = [batch(c) for c in range(CLIENTS)]
            answers = [None] * CLIENTS
            go = threading.Barrier(CLIENTS)

            def run(c):
                conn = s.conn(timeout=120)
                go.wait()
                conn.request("POST", "/v2/facts/batch", body=bodies[c],
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                answers[c] = (r.status, json.loads(r.read()))
                conn.close()
            ts = [threading.Thread(target=run, args=(c,))
                  for c in range(CLIENTS)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            ranges = {}
            for c, (st, b) in enumerate(answers):
                self.assertEqual(st, 200, b)
                want = SIZE - 1 if c == 3 else SIZE
                self.assertEqual((b["created"], b["failed"]),
                                 (want, SIZE - want), c)
                ids = sorted(x["id"] for x in b["results"] if "id" in x)
                self.assertEqual(len(ids), want)
                # a batch's new facts are one contiguous id range
                self.assertEqual(ids[-1] - ids[0] + 1, want, c)
                ranges[(ids[0], ids[-1])] = want
            st, _, a = s.request("GET", "/v2/audit?limit=100")
            self.assertEqual(st, 200, a)
            imports = [e for e in a["entries"] if e["op"] == "import"]
            self.assertEqual(len(imports), CLIENTS, a)
            got = {(e["fact_id"], e["fact_id_last"]): e["count"]
                   for e in imports}
            self.assertEqual(got, ranges)
            _, _, m = s.request("GET", "/metrics")
            sizes = [x for x in m.splitlines()
                     if x.startswith("hakgal_commit_group_size_")]
            print("group sizes:", sizes, file=sys.stderr)
        finally:
            s.stop()
        try:
            v = subprocess.run([BIN, "verify", "--deep", "--data", s.data],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
