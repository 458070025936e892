#!/usr/bin/env python3
"""Scores `warden inventory --format json` against the labels that
`warden simulate --grants-out` wrote: precision and recall of the unused
grants, dormant identities, shared credentials and unrotated keys.

usage: scripts/score_inventory.py GRANTS.json INVENTORY.json
exits 1 unless every score is 1.0
"""
import json
import sys


def score(name, truth, found):
    tp = len(truth & found)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    print(f"{name:20} truth {len(truth):4}  found {len(found):4}  precision {precision:.3f}  recall {recall:.3f}")
    for x in sorted(truth - found)[:5]:
        print(f"  missed: {x}")
    for x in sorted(found - truth)[:5]:
        print(f"  false:  {x}")
    return precision == 1.0 and recall == 1.0


def main(grants_path, inventory_path):
    labels = json.load(open(grants_path))["labels"]
    inv = json.load(open(inventory_path))["identities"]
    flagged = lambda flag: {e["id"] for e in inv if flag in e["flags"]}
    unused = {(e["id"], u["grant"]) for e in inv for u in (e.get("grants") or {}).get("unused", [])}
    truth_unused = {(i, g) for i, gs in labels["over_grants"].items() for g in gs}
    shared_truth = {a for pair in labels["shared_credentials"] for a in pair}
    ok = all([
        score("unused grants", truth_unused, unused),
        score("dormant", set(labels["dormant"]), flagged("dormant")),
        score("shared credential", shared_truth, flagged("shared_credential")),
        score("unrotated", set(labels["unrotated"]), flagged("unrotated")),
    ])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
