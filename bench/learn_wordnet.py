#!/usr/bin/python3
"""Builds a WN18RR replica from the WordNet 3.0 files Debian ships
(package wordnet-base: /usr/share/wordnet/data.{noun,verb,adj,adv}) and
writes it as DIR/train.txt, valid.txt, test.txt ("head<TAB>relation<TAB>tail",
the form `hakgal model eval --split DIR` reads).

How WN18 and WN18RR were made, and what this script does the same way:

1. WN18 (Bordes et al. 2013/2014): entities are WordNet 3.0 synsets, edges
   the synset and lexical pointers of 18 relation types; synsets taking part
   in too few edges were filtered out, leaving 40,943 entities and 151,442
   triples, split at random into 141,442 / 5,000 / 5,000. The published
   files do not say which threshold produced 40,943; here a synset is kept
   when it takes part in at least --min-degree edges of the 18 relations
   (in one pass; WordNet stores most links in both directions, e.g. @ and
   ~, so a link usually counts twice), and the triples between kept
   synsets are kept. Thresholds 4, 5, 7 give 68,450, 38,170 and 22,408
   synsets; the default 5 comes closest to WN18 (38,170 synsets, 149,223
   triples against 40,943 and 151,442). Lexical pointers (between two
   words of two synsets, e.g. derivationally related forms) become edges
   between the synsets, as in WN18.
2. The triples among kept synsets are split at random (seeded) into
   valid / test / train with WN18's sizes scaled to the number of triples.
3. WN18RR (Dettmers et al. 2018) drops the relations that are the inverse
   of another one (_hyponym of _hypernym, _part_of of _has_part, ...):
   with both in the data a test triple (a, _hyponym, b) was answered by
   the training triple (b, _hypernym, a). The 11 kept relations are those
   of WN18RR; every split is filtered the same way, so train / valid /
   test keep WN18's proportions (86,835 / 3,034 / 3,134 in WN18RR). As in
   WN18RR, the symmetric relations (_derivationally_related_form,
   _similar_to, _verb_group, _also_see) still carry both directions, so a
   test triple can have its reverse in train; --no-reverse also removes
   those valid/test triples (a stricter set than the published one).

Entity names are POS letter + synset offset (n02084071), since offsets
repeat across the four files. Usage:
    bench/learn_wordnet.py OUT_DIR [--min-degree N] [--seed S] [--no-reverse]
"""
import argparse
import os
import random
import sys

WN = "/usr/share/wordnet"
FILES = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}

# WordNet pointer symbol -> WN18 relation name
POINTERS = {
    "@": "_hypernym", "@i": "_instance_hypernym",
    "~": "_hyponym", "~i": "_instance_hyponym",
    "%m": "_member_meronym", "#m": "_member_holonym",
    "%p": "_has_part", "#p": "_part_of",
    ";c": "_synset_domain_topic_of", "-c": "_member_of_domain_topic",
    ";r": "_synset_domain_region_of", "-r": "_member_of_domain_region",
    ";u": "_synset_domain_usage_of", "-u": "_member_of_domain_usage",
    "+": "_derivationally_related_form", "&": "_similar_to",
    "$": "_verb_group", "^": "_also_see",
}
WN18RR = {
    "_hypernym", "_derivationally_related_form", "_instance_hypernym",
    "_also_see", "_member_meronym", "_synset_domain_topic_of", "_has_part",
    "_member_of_domain_usage", "_member_of_domain_region", "_verb_group",
    "_similar_to",
}
SYMMETRIC = {"_derivationally_related_form", "_similar_to", "_verb_group",
             "_also_see"}
WN18_SIZES = (141442, 5000, 5000)  # train, valid, test
WN18RR_SIZES = (86835, 3034, 3134)


def read_edges():
    if not os.path.exists(os.path.join(WN, FILES["n"])):
        sys.exit(f"{WN}/{FILES['n']} is missing: bash scripts/deps.sh bench "
                 "installs wordnet-base")
    edges = set()
    for pos, name in FILES.items():
        with open(os.path.join(WN, name), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # license header
                    continue
                fields = line.split(" | ", 1)[0].split()
                src = pos + fields[0]
                n_words = int(fields[3], 16)
                i = 4 + 2 * n_words
                n_ptr = int(fields[i])
                i += 1
                for _ in range(n_ptr):
                    sym, off, ppos = fields[i], fields[i + 1], fields[i + 2]
                    i += 4
                    rel = POINTERS.get(sym)
                    if rel is None:
                        continue
                    dst = ("a" if ppos == "s" else ppos) + off
                    if dst != src:
                        edges.add((src, rel, dst))
    return edges


def filter_entities(edges, min_degree):
    deg = {}
    for h, _, t in edges:
        deg[h] = deg.get(h, 0) + 1
        deg[t] = deg.get(t, 0) + 1
    return {e for e, d in deg.items() if d >= min_degree}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--min-degree", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-reverse", action="store_true")
    a = ap.parse_args()
    edges = read_edges()
    keep = filter_entities(edges, a.min_degree)
    wn18 = sorted((h, r, t) for h, r, t in edges if h in keep and t in keep)
    rng = random.Random(a.seed)
    rng.shuffle(wn18)
    total = sum(WN18_SIZES)
    n_valid = round(len(wn18) * WN18_SIZES[1] / total)
    n_test = round(len(wn18) * WN18_SIZES[2] / total)
    split = {"valid": wn18[:n_valid], "test": wn18[n_valid:n_valid + n_test],
             "train": wn18[n_valid + n_test:]}
    rr = {k: [x for x in v if x[1] in WN18RR] for k, v in split.items()}
    if a.no_reverse:
        train = set(rr["train"])
        for k in ("valid", "test"):
            rr[k] = [(h, r, t) for h, r, t in rr[k]
                     if not (r in SYMMETRIC and (t, r, h) in train)]
    os.makedirs(a.out, exist_ok=True)
    for k, v in rr.items():
        with open(os.path.join(a.out, k + ".txt"), "w") as f:
            for h, r, t in v:
                f.write(f"{h}\t{r}\t{t}\n")
    ents = {e for v in rr.values() for h, _, t in v for e in (h, t)}
    print(f"WordNet 3.0: {len(edges)} edges of the 18 WN18 relations")
    print(f"WN18 replica: {len(keep)} synsets (min degree {a.min_degree}; "
          f"WN18: 40,943), {len(wn18)} triples (WN18: 151,442)")
    print(f"WN18RR replica: {len(ents)} entities (WN18RR: 40,943 listed, "
          f"40,559 used), train {len(rr['train'])} / valid "
          f"{len(rr['valid'])} / test {len(rr['test'])} "
          f"(WN18RR: {WN18RR_SIZES[0]} / {WN18RR_SIZES[1]} / "
          f"{WN18RR_SIZES[2]})")
    rels = {}
    for h, r, t in rr["train"]:
        rels[r] = rels.get(r, 0) + 1
    for r in sorted(rels, key=lambda r: -rels[r]):
        print(f"  {r:32s} {rels[r]:7d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
