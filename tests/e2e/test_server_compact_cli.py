#!/usr/bin/env python3
"""`hakgal compact DIR` while `hakgal serve` holds DIR: the command asks
the server (DIR/hakgal.server) to compact online.

1. A server with tokens: without a token, and with a write token, the
   command fails with exit code 4 and says that an admin token is needed;
   nothing changes and no token is printed.
2. With the admin token ($HAKGAL_TOKEN, then --token): `--json` reports the
   sizes before and after, the file is not larger, content digest and
   audit head are those of before, and the server keeps answering.
3. --offline still refuses (exit 4) and names the server.
4. A note naming an address where nothing listens: exit 5, "cannot be
   reached".
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server, run_tests, sha256_hex  # noqa

ADMIN = "admin-secret-c17"
WRITER = "write-secret-c17"


def cli(*args, env=None):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("HAKGAL_") or k == "HAKGAL_BIN"}
    if env:
        e.update(env)
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=300, env=e)
    return p.returncode, p.stdout, p.stderr


def digest(data):
    rc, out, err = cli("digest", "--data", data, "--json")
    assert rc == 0, err
    return json.loads(out)


def data_size(data):
    return os.stat(os.path.join(data, "data.mdb")).st_size


class CompactThroughServer(unittest.TestCase):

    def test_compact_through_server(self):
        os.makedirs(TMP, exist_ok=True)
        tok = tempfile.NamedTemporaryFile("w", dir=TMP, delete=False,
                                          suffix=".tokens")
        tok.write("ops admin %s\n" % sha256_hex(ADMIN))
        tok.write("writer write %s\n" % sha256_hex(WRITER))
        tok.close()
        s = Server(["--tokens", tok.name])
        try:
            self.run_phases(s)
        finally:
            rc = s.stop()
            out = s.output()
            os.unlink(tok.name)
        self.assertEqual(rc, 0, out)

    def fill(self, s):
        auth = {"Authorization": "Bearer " + WRITER,
                "Content-Type": "application/x-ndjson"}
        ids = []
        for b in range(20):
            body = "".join(json.dumps({"statement": "Fill(e%d_%d, v%d)" %
                                       (b, i, i % 7)}) + "\n"
                           for i in range(200))
            st, _, res = s.request("POST", "/v2/facts/batch", body, auth)
            self.assertIn(st, (200, 201), res)
            ids.extend(r["id"] for r in res["results"])
        for fid in ids[::3]:
            st, _, res = s.request("DELETE", "/v2/facts/%d" % fid, None,
                                   {"Authorization": "Bearer " + WRITER})
            self.assertIn(st, (200, 204), res)

    def run_phases(self, s):
        data = s.data
        self.fill(s)
        d0 = digest(data)
        size0 = data_size(data)

        # 1. no token, a write token: refused, nothing changes
        rc, out, err = cli("compact", data, "--json")
        self.assertEqual(rc, 4, out + err)
        self.assertIn("admin token is needed", err)
        self.assertIn("--token", err)
        self.assertIn("127.0.0.1:%d" % s.port, err)
        rc, out, err = cli("compact", data, "--token", WRITER)
        self.assertEqual(rc, 4, out + err)
        self.assertIn("role admin", err)
        self.assertNotIn(WRITER, out + err)
        self.assertEqual(data_size(data), size0)
        self.assertEqual(digest(data), d0)

        # 2. the admin token: compacted through the server
        rc, out, err = cli("compact", data, "--json",
                           env={"HAKGAL_TOKEN": ADMIN})
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn(ADMIN, out + err)
        r = json.loads(out)
        self.assertEqual(r["compacted"], data)
        self.assertEqual(r["bytes_before"], size0)
        self.assertLessEqual(r["bytes_after"], r["bytes_before"])
        self.assertEqual(data_size(data), r["bytes_after"])
        self.assertLessEqual(data_size(data), size0)
        self.assertEqual(r["facts"], d0["facts"])
        self.assertEqual(digest(data), d0)
        st, _, stats = s.request("GET", "/v2/stats")
        self.assertEqual(st, 200, stats)
        st, _, v = s.request("GET", "/v2/admin/verify?deep=1", None,
                             {"Authorization": "Bearer " + ADMIN},
                             timeout=300)
        self.assertEqual(st, 200, v)
        self.assertTrue(v["ok"], v)
        st, _, res = s.request("POST", "/v2/facts",
                               json.dumps({"statement": "After(x, y)"}),
                               {"Authorization": "Bearer " + WRITER,
                                "Content-Type": "application/json"})
        self.assertEqual(st, 201, res)
        rc, out, err = cli("compact", "--data", data, "--token", ADMIN)
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.startswith("compacted %s: " % data), out)
        self.assertIn(" %d facts" % (d0["facts"] + 1), out)
        self.assertNotIn(ADMIN, out + err)

        # 3. --offline refuses and names the server
        d1 = digest(data)
        rc, out, err = cli("compact", data, "--offline",
                           env={"HAKGAL_TOKEN": ADMIN})
        self.assertEqual(rc, 4, out + err)
        self.assertIn("pid %d" % s.proc.pid, err)
        self.assertIn("/v2/admin/compact", err)
        self.assertEqual(digest(data), d1)

    def test_server_unreachable(self):
        d = tempfile.mkdtemp(prefix="c17-", dir=TMP)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()  # nothing listens there now
        with open(os.path.join(d, "hakgal.server"), "w") as f:
            f.write("pid=%d url=http://127.0.0.1:%d\n" % (os.getpid(), port))
        rc, out, err = cli("compact", d, "--token", ADMIN)
        self.assertEqual(rc, 5, out + err)
        self.assertIn("cannot be reached", err)
        self.assertNotIn(ADMIN, out + err)
        os.unlink(os.path.join(d, "hakgal.server"))
        os.rmdir(d)


if __name__ == "__main__":
    run_tests(__name__)
