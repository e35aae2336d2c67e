#!/usr/bin/env python3
"""Follow hakgal's change stream with any Kafka client (here confluent-kafka,
Debian's python3-confluent-kafka).

    stream_consumer.py BOOTSTRAP TOPIC [--group G] [--count N] [--idle S]

Prints each change event (the JSON envelope of docs/STREAM.md) as one line
of JSON on stdout, oldest first per fact. Delivery is at least once: an
event seen before (same source.event) is skipped. Stops after N new events
(--count), or after S seconds without a message (--idle, default: never).
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("--group", default="hakgal-example")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--idle", type=float, default=0.0)
    a = ap.parse_args()
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": a.group,
                  "auto.offset.reset": "earliest",
                  "enable.auto.commit": True, "log_level": 3})
    c.subscribe([a.topic])
    seen = set()
    new = 0
    last = time.monotonic()
    try:
        while not a.count or new < a.count:
            msg = c.poll(0.2)
            if msg is None:
                if a.idle and time.monotonic() - last > a.idle:
                    break
                continue
            last = time.monotonic()
            if msg.error():
                print("consumer: %s" % msg.error(), file=sys.stderr)
                continue
            event = json.loads(msg.value())
            number = event["source"]["event"]
            if number in seen:
                continue  # a repeat: delivery is at least once
            seen.add(number)
            new += 1
            print(json.dumps(event, sort_keys=True), flush=True)
    finally:
        c.close()


if __name__ == "__main__":
    main()
