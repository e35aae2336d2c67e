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

--classes writes instead a set whose held-out facts follow from latent
structure that embeddings capture and one-hop heuristics do not (see
gen_classes): most triples here are one hop from their answer (a
symmetric pair, a parent link), so the model only ties the 1-hop
baseline on it.

Usage: learn_gen.py DIR [--entities N] [--seed S] [--classes]
"""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--entities", type=int, default=40943)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--classes", action="store_true")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    if a.classes:
        return gen_classes(a, rnd)
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

    write_split(a.dir, name, T, rnd)


def write_split(out, name, T, rnd, hold=0.034):
    """Random valid / test triples (a fraction hold each) whose two
    entities keep an edge in train; the rest is train."""
    triples = sorted(T)
    rnd.shuffle(triples)
    n_hold = int(len(triples) * hold)
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
    os.makedirs(out, exist_ok=True)
    for fn, rows in (("train", train), ("valid", valid), ("test", test)):
        with open(os.path.join(out, fn + ".txt"), "w") as f:
            for h, r, t in rows:
                f.write("%s\t%s\t%s\n" % (name[h], r, name[t]))
    ents = {e for h, _, t in triples for e in (h, t)}
    print("%d entities, %d relations, %d / %d / %d triples" %
          (len(ents), len({r for _, r, _ in triples}), len(train),
           len(valid), len(test)))


def gen_classes(a, rnd):
    """Latent classes, composition and inverses (--classes).

    Three kinds of facts over n entities (default 4,000 when --entities
    is left at its WN18RR value):
      _rel0.._rel5  class level: the entities fall into classes of 10;
                    each relation maps a class c to a target class f(c)
                    (a random function) and every entity of c links to 5
                    of the 10 members of f(c), drawn per entity. A
                    held-out link is predictable from the classes (the
                    other members of c link into the same class), hardly
                    ever from one path (two relations join the same pairs
                    only where their class maps meet), and every target
                    member is about equally frequent.
      _lives_in, _located_in, _nationality  composition: 85% of the
                    entities live in one of n / 8 towns (extra entities),
                    each town lies in one of 40 countries, and 70% of the
                    residents have _nationality = the town's country
                    (r3 = r1 o r2: two hops, never one).
      _owns, _owned_by  inverse pairs: 3% of the entities own a random
                    entity, written in both directions; a held-out
                    direction is one hop from the other (the 1-hop
                    baseline's case, kept small on purpose).
    Valid and test: 3.4% of the triples each, as write_split draws them.
    """
    n = 4000 if a.entities == 40943 else a.entities
    size, fan = 10, 5
    n_cls = max(2, n // size)
    towns = max(2, n // 8)
    name = ["e%06d" % i for i in range(n)]
    name += ["town%05d" % i for i in range(towns)]
    name += ["country%03d" % i for i in range(40)]
    members = [list(range(c * size, min(n, (c + 1) * size)))
               for c in range(n_cls)]
    members = [m for m in members if m]
    n_cls = len(members)
    cls = [0] * n
    for c, mem in enumerate(members):
        for e in mem:
            cls[e] = c
    T = set()
    for k in range(6):
        f = [rnd.randrange(n_cls) for _ in range(n_cls)]
        for e in range(n):
            tgt = members[f[cls[e]]]
            for x in rnd.sample(tgt, min(fan, len(tgt))):
                if x != e:
                    T.add((e, "_rel%d" % k, x))
    country = [n + towns + rnd.randrange(40) for _ in range(towns)]
    for e in range(n):
        if rnd.random() < 0.85:
            t = rnd.randrange(towns)
            T.add((e, "_lives_in", n + t))
            if rnd.random() < 0.7:
                T.add((e, "_nationality", country[t]))
    for t in range(towns):
        T.add((n + t, "_located_in", country[t]))
    for e in rnd.sample(range(n), max(1, n * 3 // 100)):
        x = rnd.randrange(n)
        if x != e:
            T.add((e, "_owns", x))
            T.add((x, "_owned_by", e))
    write_split(a.dir, name, T, rnd)


if __name__ == "__main__":
    main()
