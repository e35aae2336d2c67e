#!/usr/bin/env python3
"""An OpenAI-compatible endpoint that answers every chat call at once with
a fixed grounded answer, for bench/llm_bench.c. Prints its base URL and
serves until killed:  python3 bench/llm_instant.py &"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
from llm_fake_server import FakeLLM, answer  # noqa: E402

fake = FakeLLM()
fake.default = lambda req: {"content": answer(
    "ok", [1], [("HasPart(Computer, CPU)", [1])])}
print(fake.url, flush=True)
while True:
    time.sleep(3600)
