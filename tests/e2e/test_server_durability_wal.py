#!/usr/bin/env python3
"""Durability of `hakgal serve --wal` (the store's write-ahead log):

- SIGTERM with the log on acknowledges or refuses what it accepted and
  exits cleanly (the check of test_server_durability.py);
- several rounds of SIGKILL at a random moment under a load of single
  facts and batches on one KB: after each restart (which rolls data.mdb
  back to the last checkpoint and replays the log) every acknowledged
  write is there, and once the server stopped cleanly `hakgal verify
  --deep` finds the KB sound and `hakgal digest` is what a second clean
  restart gives;
- while the server runs, a command may read the KB but not write it; an
  unreplayed log refuses other openers with a message naming the cure.

A process kill keeps the page cache: the power-loss case (pages of
data.mdb lost in any mix) is tests/unit/test_store_wal.c.
"""
import os
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server_durability as dur  # noqa: E402
from test_server_api import BIN, run_tests  # noqa: E402
from write_load import Load, batch_writer, single_writer  # noqa: E402


class WalServer(dur.Server):
    def __init__(self, args=(), env=None, **kw):
        super().__init__(["--wal"] + list(args), env=env, **kw)


BaseServer = dur.Server
dur.Server = WalServer  # the borrowed tests below start this one


def cli(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout + p.stderr


class WalDurability(unittest.TestCase):

    def test_sigterm_commits_and_exits_cleanly(self):
        dur.Durability.test_sigterm_commits_and_exits_cleanly(self)

    def test_random_kills_replay_and_verify(self):
        rnd = random.Random(1717)
        s = WalServer()
        data = s.data
        roots = [s]
        acked_all = []
        try:
            for rnd_i in range(3):
                load = Load(s.port, 8, 100 * rnd_i,
                            lambda w: single_writer if w % 4 else
                            batch_writer)
                time.sleep(0.5 + rnd.random() * 1.5)
                s.kill()
                load.stop()
                acked = load.acked
                acked_all.extend(acked)
                self.assertEqual(load.errors, [])
                self.assertGreater(len(acked), 0, "nothing acknowledged")
                # an unreplayed log: other openers are refused
                rc, out = cli("stats", "--data", data)
                self.assertNotEqual(rc, 0, out)
                self.assertIn("serve --wal", out)
                s = WalServer(data=data)
                roots.append(s)
                self.assertIn("recovered from the write-ahead log",
                              s.output())
                have = dur.all_statements(s, "Dur") | \
                    dur.all_statements(s, "Bat")
                missing = [a for a in acked_all if a not in have]
                self.assertEqual(missing, [], "acknowledged writes lost")
            # while it runs: reads from another process work, writes not
            rc, out = cli("stats", "--data", data)
            self.assertEqual(rc, 0, out)
            rc, out = cli("add", "--data", data, "Other(process)")
            self.assertNotEqual(rc, 0, out)
            self.assertIn("write-ahead log", out)
            self.assertEqual(s.stop(), 0, s.output())
            rc, out = cli("verify", "--deep", "--data", data)
            self.assertEqual(rc, 0, out)
            rc, d1 = cli("digest", "--data", data)
            self.assertEqual(rc, 0, d1)
            s = WalServer(data=data)
            roots.append(s)
            self.assertNotIn("recovered", s.output())
            self.assertEqual(s.stop(), 0, s.output())
            rc, d2 = cli("digest", "--data", data)
            self.assertEqual(d1, d2)
            # a clean log: the KB is an ordinary one again
            rc, out = cli("add", "--data", data, "Other(process)")
            self.assertEqual(rc, 0, out)
        finally:
            for r in roots:
                r.kill()
            for r in roots:
                r.cleanup()

    def test_writer_stage_counters(self):
        # The writer's and syncer's time per stage (bench/writer/cpu.sh
        # reads them): every stage is exported, the ones a logged write
        # passes through grow, and the writer's stages never add up to
        # more than the time it has been running.
        t0 = time.monotonic()
        s = WalServer()
        try:
            for i in range(20):
                st, _, b = s.request("POST", "/v2/facts",
                                     {"statement": "Stage(s%d, x)" % i})
                self.assertEqual(st, 201, b)
            st, _, text = s.request("GET", "/metrics")
            self.assertEqual(st, 200)
            stages = ("wait_sync", "idle", "gather", "apply", "commit",
                      "hand_off", "sync", "answer")
            us = {k: 1e6 * dur.metric(
                      text, 'hakgal_writer_stage_seconds_total{stage="%s"}' % k)
                  for k in stages}
            elapsed_us = (time.monotonic() - t0) * 1e6
            for k in ("idle", "apply", "commit", "sync"):
                self.assertGreater(us[k], 0, k)
            writer = sum(us[k] for k in stages[:6])
            self.assertLessEqual(writer, elapsed_us, us)
            self.assertLessEqual(us["sync"] + us["answer"], elapsed_us, us)
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()

    def test_write_latency_counters(self):
        # A write request's time per stage once queued: every POST answered
        # is counted once, the stages a logged write passes through are
        # positive, and their sum per request is no more than the time the
        # client waited for it (the stages end when the loop answers).
        s = WalServer()
        try:
            n = 30
            waited = 0.0
            for i in range(n):
                t0 = time.monotonic()
                st, _, b = s.request("POST", "/v2/facts",
                                     {"statement": "Lat(l%d, x)" % i})
                waited += time.monotonic() - t0
                self.assertEqual(st, 201, b)
            st, _, text = s.request("GET", "/metrics")
            self.assertEqual(st, 200)
            self.assertIn("# TYPE hakgal_write_latency_seconds_total counter",
                          text)
            count = dur.metric(text, "hakgal_write_latency_writes_total")
            self.assertEqual(count, n)
            sec = {k: dur.metric(
                       text,
                       'hakgal_write_latency_seconds_total{stage="%s"}' % k)
                   for k in ("queue", "apply", "durable", "answer")}
            for k in ("apply", "durable"):
                self.assertGreater(sec[k], 0, sec)
            self.assertLessEqual(sum(sec.values()), waited, sec)
            # a read is no write: the counters stay
            st, _, _ = s.request("GET", "/v2/facts?limit=1")
            st, _, text = s.request("GET", "/metrics")
            self.assertEqual(
                dur.metric(text, "hakgal_write_latency_writes_total"), n)
        finally:
            self.assertEqual(s.stop(), 0, s.output())
            s.cleanup()

    def test_wal_refuses_replication_and_no_sync(self):
        s = BaseServer(["--wal", "--no-sync"], wait=False)
        try:
            s.proc.wait(60)
            self.assertNotEqual(s.proc.returncode, 0)
            self.assertIn("--wal cannot be combined", s.output())
        finally:
            s.kill()
            s.cleanup()


if __name__ == "__main__":
    run_tests(__name__)
