#!/usr/bin/env python3
"""Online compaction of a running `hakgal serve` (POST /v2/admin/compact).

1. Quiet KB: the compaction answers 200, data.mdb gets smaller, and the
   content digest and audit head (`hakgal digest --json`) and the process
   lock file are those of before.
2. Under a concurrent load of keep-alive connections (writers POSTing
   unique facts, readers doing GETs, queries and stats) two compactions
   run: no request fails, every acknowledged write is there afterwards,
   the audit chain and the deep check pass, and the digest counts exactly
   the acknowledged writes on top of what was there.
3. `hakgal compact --offline` on the served KB refuses with exit code 4
   and names the server (its pid and address) and the online route
   (without --offline it asks the server: test_server_compact_cli.py).
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, Server, run_tests  # noqa: E402

WRITERS = 3
READERS = 3


def cli(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def digest(data):
    rc, out, err = cli("digest", "--data", data, "--json")
    assert rc == 0, err
    return json.loads(out)


def data_size(data):
    return os.stat(os.path.join(data, "data.mdb")).st_size


def fill(s, batches, per_batch, tag):
    """Facts in many transactions, some deleted: a file with free pages."""
    ids = []
    for b in range(batches):
        body = "".join(json.dumps({"statement": "Fill%s(e%d_%d, v%d)" %
                                   (tag, b, i, i % 13)}) + "\n"
                       for i in range(per_batch))
        st, _, res = s.request("POST", "/v2/facts/batch", body,
                               {"Content-Type": "application/x-ndjson"})
        assert st in (200, 201), res
        ids.extend(r["id"] for r in res["results"])
    for fid in ids[::3]:
        st, _, res = s.request("DELETE", "/v2/facts/%d" % fid)
        assert st in (200, 204), res


def writer(port, wid, stop, acked, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    i = 0
    try:
        while not stop.is_set():
            stmt = "Load(w%d, n%d)" % (wid, i)
            body = json.dumps({"statement": stmt})
            try:
                conn.request("POST", "/v2/facts", body=body,
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(("POST", repr(e)))
                return
            if r.status == 201:
                acked.append(stmt)
            else:
                errors.append(("POST", r.status, data[:200]))
            i += 1
    finally:
        conn.close()


def reader(port, rid, stop, count, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    paths = ["/v2/stats", "/v2/facts/2", "/v2/query?q=Load(?x,%20?y)&limit=5",
             "/v2/facts?predicate=FillA&limit=20"]
    i = rid
    try:
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(("GET", path, repr(e)))
                return
            if r.status != 200:
                errors.append(("GET", path, r.status, data[:200]))
            count[rid] += 1
    finally:
        conn.close()


def all_statements(s, predicate):
    out = set()
    cursor = None
    for _ in range(10000):
        path = "/v2/facts?predicate=%s&limit=5000" % predicate
        if cursor:
            path += "&cursor=" + cursor
        st, _, b = s.request("GET", path)
        assert st == 200, b
        out.update(f["statement"] for f in b["facts"])
        cursor = b["next_cursor"]
        if not cursor:
            return out
    raise AssertionError("pagination did not end")


class OnlineCompaction(unittest.TestCase):

    def test_compaction_while_serving(self):
        s = Server()
        try:
            self.run_phases(s)
        finally:
            rc = s.stop()
            out = s.output()
        self.assertEqual(rc, 0, out)

    def run_phases(self, s):
        data = s.data
        fill(s, 30, 200, "A")
        lock = os.path.join(data, "hakgal.lock")
        lock_before = os.stat(lock)
        d0 = digest(data)
        size0 = data_size(data)

        # 1. quiet: smaller file, same content and history
        st, _, res = s.request("POST", "/v2/admin/compact", timeout=300)
        self.assertEqual(st, 200, res)
        self.assertEqual(res["bytes_before"], size0)
        self.assertLess(res["bytes_after"], size0)
        self.assertEqual(data_size(data), res["bytes_after"])
        self.assertEqual(res["facts"], d0["facts"])
        self.assertEqual(digest(data), d0)
        lock_after = os.stat(lock)
        self.assertEqual((lock_before.st_ino, lock_before.st_size),
                         (lock_after.st_ino, lock_after.st_size))
        self.assertFalse(os.path.exists(os.path.join(data,
                                                     "data.mdb.compact")))

        # 2. under load: two compactions, nothing fails or gets lost
        fill(s, 10, 200, "B")  # free pages again
        d1 = digest(data)
        stop = threading.Event()
        acked, errors = [], []
        counts = [0] * READERS
        threads = [threading.Thread(target=writer,
                                    args=(s.port, w, stop, acked, errors))
                   for w in range(WRITERS)]
        threads += [threading.Thread(target=reader,
                                     args=(s.port, r, stop, counts, errors))
                    for r in range(READERS)]
        for t in threads:
            t.start()
        try:
            reports = []
            for _ in range(2):
                mark = (len(acked), sum(counts))
                deadline = time.monotonic() + 60
                while (len(acked) < mark[0] + 30 or
                       sum(counts) < mark[1] + 30) and \
                        time.monotonic() < deadline and not errors:
                    time.sleep(0.05)
                st, _, res = s.request("POST", "/v2/admin/compact",
                                       timeout=300)
                self.assertEqual(st, 200, res)
                reports.append(res)
            mark = (len(acked), sum(counts))
            deadline = time.monotonic() + 60
            while (len(acked) < mark[0] + 30 or
                   sum(counts) < mark[1] + 30) and \
                    time.monotonic() < deadline and not errors:
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(180)
        self.assertEqual(errors, [])
        self.assertGreater(len(acked), 60, "too few writes to mean much")
        self.assertGreater(sum(counts), 60, "too few reads to mean much")
        self.assertLess(reports[0]["bytes_after"],
                        reports[0]["bytes_before"])
        have = all_statements(s, "Load")
        self.assertEqual([a for a in acked if a not in have], [],
                         "acknowledged writes lost")
        st, _, v = s.request("GET", "/v2/admin/verify?deep=1", timeout=300)
        self.assertEqual(st, 200, v)
        self.assertTrue(v["ok"], v)
        d2 = digest(data)
        self.assertEqual(d2["facts"], d1["facts"] + len(acked))
        self.assertEqual(d2["audit"]["seq"], d1["audit"]["seq"] + len(acked))
        self.assertEqual(v["audit"]["checked"], d2["audit"]["seq"])

        # 3. the offline command refuses and names the server
        rc, out, err = cli("compact", "--data", data, "--offline")
        self.assertEqual(rc, 4, out + err)
        self.assertIn("pid %d" % s.proc.pid, err)
        self.assertIn("/v2/admin/compact", err)
        self.assertIn("127.0.0.1:%d" % s.port, err)
        self.assertEqual(digest(data), d2)


if __name__ == "__main__":
    run_tests(__name__)
