#!/usr/bin/env python3
"""Writes the sample KB (data/sample.hkl) as a link-prediction split and
says how much of its held-out part can be inferred at all.

The facts become edges as hkl_data_add_statement makes them (learn.h,
"Facts as triples"): P(a, b) -> (a, P, b); P(a) -> (a, P, <true>) (the
KB uses the empty entity; a split file cannot hold an empty field);
P(a0, a1, .., an) -> (a0, P#1, a1) .. (a0, P#n, an). Whole facts go to
valid / test (fractions 0.1 / 0.2 by default, as `hakgal model train
--valid 0.1 --test 0.2`), drawn with a seed instead of the KB's hash of
the fact id, so the numbers match the KB's split in kind, not edge for
edge. DIR/train.txt, valid.txt, test.txt then go to learn_bench.

Printed for the test ranks (both directions of every test edge, as the
filtered protocol counts them): how many ask about a relation that has
no training edge, or for an answer that no training edge mentions; no
model of the training edges can rank such an answer above chance. Hence
the upper bound on the test MRR of any ranker trained on the training
edges: 1 for every rank whose answer some training edge mentions, and
for the others the best chance can give, the unseen entities ranked
first in random order (mean reciprocal rank H(U) / U over the U
entities no training edge mentions).

Usage: learn_sample.py SAMPLE.hkl DIR [--seed S] [--valid F] [--test F]
"""
import argparse
import os
import random


def split_args(s):
    """Top-level comma split of an argument list, quotes respected."""
    out, cur, quote = [], [], False
    for ch in s:
        if ch == '"':
            quote = not quote
        if ch == "," and not quote:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [a.strip('"') for a in out]


def edges_of(line):
    line = line.strip().rstrip(".").strip()
    i = line.find("(")
    if i <= 0 or not line.endswith(")"):
        return []
    pred, args = line[:i].strip(), split_args(line[i + 1:-1])
    if len(args) == 1:
        return [(args[0], pred, "<true>")]
    if len(args) == 2:
        return [(args[0], pred, args[1])]
    return [(args[0], "%s#%d" % (pred, k), args[k])
            for k in range(1, len(args))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sample")
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--valid", type=float, default=0.1)
    ap.add_argument("--test", type=float, default=0.2)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    facts = []
    with open(a.sample) as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                e = edges_of(line)
                if e:
                    facts.append(e)
    sp = {"train": [], "valid": [], "test": []}
    for e in facts:
        x = rnd.random()
        k = "test" if x < a.test else "valid" if x < a.test + a.valid \
            else "train"
        sp[k].extend(e)
    os.makedirs(a.dir, exist_ok=True)
    for k, rows in sp.items():
        with open(os.path.join(a.dir, k + ".txt"), "w") as f:
            for h, r, t in rows:
                f.write("%s\t%s\t%s\n" % (h, r, t))
    rels = {r for _, r, _ in sp["train"]}
    ents = {e for h, _, t in sp["train"] for e in (h, t)}
    tails = {}  # answers of (relation, direction) seen in train
    for h, r, t in sp["train"]:
        tails.setdefault((r, 0), set()).add(t)
        tails.setdefault((r, 1), set()).add(h)
    n = no_rel = no_ent = not_answer = 0
    for h, r, t in sp["test"]:
        for q, ans, d in ((h, t, 0), (t, h, 1)):
            n += 1
            if r not in rels:
                no_rel += 1
            elif ans not in ents:
                no_ent += 1
            elif ans not in tails.get((r, d), ()):
                not_answer += 1
    all_ent = {x for e in facts for h, _, t in e for x in (h, t)}
    u = len(all_ent - ents)
    chance = sum(1.0 / k for k in range(1, u + 1)) / max(1, u)
    bound = ((n - no_ent) + no_ent * chance) / max(1, n)
    all_rel = {r for e in facts for _, r, _ in e}
    print("%d facts, %d relations, %d / %d / %d edges; %d test ranks: "
          "%d (%.0f%%) of an unseen relation, %d (%.0f%%) of an answer no "
          "training edge mentions, %d (%.0f%%) of an answer never seen "
          "for that relation and direction" %
          (len(facts), len(all_rel), len(sp["train"]), len(sp["valid"]),
           len(sp["test"]), n, no_rel, 100.0 * no_rel / max(1, n), no_ent,
           100.0 * no_ent / max(1, n), not_answer,
           100.0 * not_answer / max(1, n)))
    print("upper bound on test MRR: %.3f (%d ranks answerable, %d entities "
          "in no training edge)" % (bound, n - no_ent, u))


if __name__ == "__main__":
    main()
