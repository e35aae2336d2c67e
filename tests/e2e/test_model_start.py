#!/usr/bin/env python3
"""End-to-end test of the learned model's load at `hakgal serve` start:
the server is ready (/readyz and /healthz 200, /metrics
hakgal_model_loading 1) while the load has not ended, a model read that
comes during the load waits for it on a pool thread (its event loop,
the only one, goes on answering) and then answers from the model, and
the server stops cleanly.

The load is held for as long as the test wants by a named pipe in place
of DIR/learn.model: opening it blocks until a writer opens it. A server
that loaded the model before listening would never answer. Then the
real model file is renamed over the pipe's name and the pipe is opened
and closed through a second link: the start's load reads an empty file
(reported, "not a model file"), and the waiting request loads the real
one.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_server_api import BIN, TMP, Server  # noqa: E402
from test_model_api import planted  # noqa: E402


def run(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (args, p.returncode,
                                                  p.stderr))
    return p.stdout


def metric(srv, name):
    st, _, body = srv.request("GET", "/metrics", raw=True)
    assert st == 200, st
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


class ModelStart(unittest.TestCase):
    def test_ready_before_the_model_loads(self):
        os.makedirs(TMP, exist_ok=True)
        root = tempfile.mkdtemp(prefix="model-start-", dir=TMP)
        data = os.path.join(root, "kb")
        src = os.path.join(root, "facts.txt")
        with open(src, "w") as f:
            f.write("\n".join(planted()) + "\n")
        run("init", "--data", data)
        run("import", "--data", data, "--quiet", src)
        run("model", "train", "--data", data, "--threads", "1", "--seed",
            "7", "--dim", "8", "--epochs", "2", "--no-space")
        want = json.loads(run("model", "info", "--data", data, "--json"))
        model = os.path.join(data, "learn.model")
        real = os.path.join(root, "learn.model.real")
        alias = os.path.join(root, "pipe")
        os.rename(model, real)
        os.mkfifo(model)
        os.link(model, alias)  # to open the pipe after its name is taken

        srv = Server(data=data, args=["--threads", "1"], wait=False)
        got = {}
        try:
            srv.wait_ready()
            for path in ("/readyz", "/healthz"):
                st, _, _ = srv.request("GET", path)
                self.assertEqual(st, 200, path)
            self.assertEqual(metric(srv, "hakgal_model_loading"), 1)

            def model_info():
                got["answer"] = srv.request("GET", "/v2/model", timeout=120)
            t = threading.Thread(target=model_info)
            t.start()
            # the model read waits for the load, its loop does not
            time.sleep(0.3)
            for _ in range(3):
                st, _, _ = srv.request("GET", "/readyz", timeout=10)
                self.assertEqual(st, 200)
                st, _, body = srv.request("GET", "/v2/facts?limit=1",
                                          timeout=10)
                self.assertEqual(st, 200)
            self.assertTrue(t.is_alive(), "the model read did not wait")
            self.assertEqual(metric(srv, "hakgal_model_loading"), 1)

            os.rename(real, model)
            fd = os.open(alias, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)  # the start's load reads an empty file
            t.join(120)
            self.assertFalse(t.is_alive())
            st, _, body = got["answer"]
            self.assertEqual(st, 200, body)
            for k in ("model", "dim", "entities", "relations", "audit_seq"):
                self.assertEqual(body[k], want[k], k)
            deadline = time.time() + 30
            while metric(srv, "hakgal_model_loading") != 0:
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            self.assertIn("learned model not loaded", srv.output())
            # after the load, a read runs on the loop and answers the same
            st, _, body = srv.request("GET", "/v2/model")
            self.assertEqual(st, 200)
            self.assertEqual(body["entities"], want["entities"])
        finally:
            if os.path.exists(real):
                # the pipe still holds the load: let it go before stopping
                try:
                    os.close(os.open(alias, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
            code = srv.stop()
            out = srv.output()
            srv.cleanup()
            shutil.rmtree(root, ignore_errors=True)
        self.assertEqual(code, 0, out)
        self.assertIn("stopped", out)

if __name__ == "__main__":
    unittest.main()
