#!/usr/bin/env python3
"""Writes a WN18RR-shaped synthetic link-prediction data set:
DIR/train.txt, valid.txt, test.txt ("head<TAB>relation<TAB>tail").

Shape of WN18RR (40,943 entities, 11 relations, 86,835 / 3,034 / 3,134
triples), built from a random taxonomy instead of WordNet:
  _hypernym               every non-root synset -> its parent (a forest
                          of depth ~6 with preferential attachment)
  _derivationally_related_form  symmetric pairs, mostly siblings
  _member_meronym         parent -> some children (the inverse direction
                          of _hypernym on a subset)
  _has_part               whole -> part, the part drawn from a category
                          tied to the whole's category
  _synset_domain_topic_of synset -> the topic hub of its top ancestor
  _instance_hypernym      leaf -> its grandparent (composition)
  _also_see, _verb_group, _similar_to   symmetric pairs of siblings
  _member_of_domain_usage, _member_of_domain_region  -> a few hubs
Valid and test are random triples whose entities also occur in train
(as in WN18RR). Deterministic for a seed.

Usage: learn_gen.py DIR [--entities N] [--seed S]
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--entities", type=int, default=40943)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    n = a.entities
    name = ["%08d" % (1000000 + i * 7) for i in range(n)]
    roots = max(8, n // 2000)
    parent = [-1] * n
    depth = [0] * n
    children = [[] for _ in range(n)]
    pool = list(range(roots))  # preferential attachment: repeat parents
    for i in range(roots, n):
        p = rnd.choice(pool) if rnd.random() < 0.7 else rnd.randrange(i)
        parent[i] = p
        depth[i] = depth[p] + 1
        children[p].append(i)
        pool.append(p)
        if depth[i] < 6:
            pool.append(i)
    top = list(range(n))
    for i in range(n):
        t = i
        while parent[t] >= 0:
            t = parent[t]
        top[i] = t
    cat = [top[i] % roots for i in range(n)]
    by_cat = {}
    for i in range(n):
        by_cat.setdefault(cat[i], []).append(i)
    T = set()

    def add(h, r, t):
        if h != t:
            T.add((h, r, t))

    for i in range(n):
        if parent[i] >= 0 and rnd.random() < 0.95:
            add(i, "_hypernym", parent[i])

    def sibling(i):
        p = parent[i]
        if p < 0 or len(children[p]) < 2:
            return None
        return rnd.choice(children[p])

    def sym_pairs(rel, count, local=0.9):
        for _ in range(count):
            i = rnd.randrange(n)
            j = sibling(i) if rnd.random() < local else rnd.randrange(n)
            if j is None or j == i:
                continue
            add(i, rel, j)
            add(j, rel, i)

    sym_pairs("_derivationally_related_form", 22000)
    for i in range(n):
        if parent[i] >= 0 and rnd.random() < 0.18:
            add(parent[i], "_member_meronym", i)
    for _ in range(5000):
        w = rnd.randrange(n)
        pc = (cat[w] * 7 + 3) % roots
        add(w, "_has_part", rnd.choice(by_cat[pc]))
    topics = [rnd.randrange(n) for _ in range(40)]
    for i in rnd.sample(range(n), min(n, 3300)):
        add(i, "_synset_domain_topic_of", topics[top[i] % 40])
    leaves = [i for i in range(n) if not children[i] and depth[i] >= 2]
    for i in rnd.sample(leaves, min(len(leaves), 3000)):
        add(i, "_instance_hypernym", parent[parent[i]])
    sym_pairs("_also_see", 700, 0.8)
    sym_pairs("_verb_group", 550, 0.95)
    sym_pairs("_similar_to", 40, 1.0)
    usage = [rnd.randrange(n) for _ in range(8)]
    region = [rnd.randrange(n) for _ in range(60)]
    for i in rnd.sample(range(n), min(n, 600)):
        add(i, "_member_of_domain_usage", usage[cat[i] % 8])
    for i in rnd.sample(range(n), min(n, 900)):
        add(i, "_member_of_domain_region", region[cat[i] % 60])

    triples = sorted(T)
    rnd.shuffle(triples)
    n_hold = int(len(triples) * 0.034)
    deg = {}
    for h, _, t in triples:
        deg[h] = deg.get(h, 0) + 1
        deg[t] = deg.get(t, 0) + 1
    held, train = [], []
    for x in triples:  # held out only when both ends stay in train
        h, _, t = x
        if len(held) < 2 * n_hold and deg[h] > 1 and deg[t] > 1:
            deg[h] -= 1
            deg[t] -= 1
            held.append(x)
        else:
            train.append(x)
    valid, test = held[:n_hold], held[n_hold:]
    os.makedirs(a.dir, exist_ok=True)
    for fn, rows in (("train", train), ("valid", valid), ("test", test)):
        with open(os.path.join(a.dir, fn + ".txt"), "w") as f:
            for h, r, t in rows:
                f.write("%s\t%s\t%s\n" % (name[h], r, name[t]))
    ents = {e for h, _, t in triples for e in (h, t)}
    print("%d entities, %d relations, %d / %d / %d triples" %
          (len(ents), len({r for _, r, _ in triples}), len(train),
           len(valid), len(test)))


if __name__ == "__main__":
    main()
