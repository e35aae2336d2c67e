#!/usr/bin/env python3
"""The durability checks of test_server_durability.py with the pipelined
writer (HK_WRITER_SYNC=pipelined: one sync per commit on the writer, the
meta page's sync by the syncer thread, which acknowledges a group only
after it): concurrent writers on keep-alive connections, SIGKILL while
writes are in flight, restart, every acknowledged write present; SIGTERM
acknowledges or refuses every write it accepted and exits cleanly (the
syncer drains before the loops stop); writes still share commits.
A process kill keeps the page cache, so this proves the answers and their
order, not the sync against power loss (docs/ARCHITECTURE.md argues that).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server_durability as dur  # noqa: E402
from test_server_api import run_tests  # noqa: E402


class PipelinedServer(dur.Server):
    def __init__(self, args=(), env=None, **kw):
        e = dict(env or {})
        e["HK_WRITER_SYNC"] = "pipelined"
        super().__init__(args, env=e, **kw)


dur.Server = PipelinedServer  # the tests below start this one


class PipelinedDurability(unittest.TestCase):

    def test_sigkill_keeps_every_acknowledged_write(self):
        dur.Durability.test_sigkill_keeps_every_acknowledged_write(self)

    def test_sigterm_commits_and_exits_cleanly(self):
        dur.Durability.test_sigterm_commits_and_exits_cleanly(self)


if __name__ == "__main__":
    run_tests(__name__)
