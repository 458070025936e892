#!/usr/bin/env python3
"""One line per attack episode of one threat family, over a matrix of
simulator fleets (the cells of scripts/eval_matrix.py): its agent, its
calls, where they came from (the first call's address and client), and
whether a finding for the agent was created in the episode's window,
with that finding's risk and first line. Episodes are split and windows
drawn as `warden replay`'s evaluation does (src/offline/eval.rs), so the
found / missed counts match the matrix's table for the family.

What it is for: seeing which episodes a family's misses are (their
size, their context) before changing a detector. Looking at a matrix
this way is a kind of tuning; docs/detection.md says which matrices have
been looked at.

Usage: scripts/episodes.py --binary target/release/warden --family off_hours
           [--matrix dev|report|holdout|fresh] [--out DIR]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eval_matrix  # noqa: E402  (the matrices' cells)

GAP_MS = 30 * 60_000  # EPISODE_GAP_MS
BEFORE_MS = 60_000  # WINDOW_BEFORE_MS
AFTER_MS = 5 * 60_000  # WINDOW_AFTER_MS


def ms(ts):
    if isinstance(ts, int):
        return ts
    return int(datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def fleet(binary, cell, out, variant=""):
    seed = cell[0]
    calls = os.path.join(out, f"fleet-{seed}.jsonl")
    alerts = os.path.join(out, f"alerts-{seed}.jsonl")
    if not os.path.exists(alerts):
        subprocess.run(eval_matrix.simulate_command(binary, cell, calls, variant), check=True,
                       stderr=subprocess.DEVNULL)
        subprocess.run([binary, "replay", "--no-progress", "--alerts-out", alerts, calls],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return calls, alerts


def episodes(calls, family):
    by_agent = {}
    needle = f'"{family}"'
    with open(calls) as f:
        for line in f:
            if needle not in line:
                continue
            r = json.loads(line)
            if r.get("label") == family:
                by_agent.setdefault(r["agent_id"], []).append(r)
    for agent, rows in by_agent.items():
        rows.sort(key=lambda r: ms(r["ts"]))
        run = [rows[0]]
        for r in rows[1:]:
            if ms(r["ts"]) - ms(run[-1]["ts"]) > GAP_MS:
                yield agent, run
                run = []
            run.append(r)
        yield agent, run


def created(alerts):
    out = {}
    with open(alerts) as f:
        for line in f:
            d = json.loads(line)
            if d.get("class_uid") == 2004 and d.get("activity_id") == 1:
                agent = d["message"].split(" ", 1)[0]
                out.setdefault(agent, []).append(d)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--family", required=True)
    ap.add_argument("--matrix", default="report", choices=["dev", "report", "holdout", "fresh"])
    ap.add_argument("--out", default="out/episodes")
    ap.add_argument("--variant", default="", help="as eval_matrix.py --variant")
    a = ap.parse_args()
    cells = {"dev": eval_matrix.DEV, "report": eval_matrix.REPORT,
             "holdout": eval_matrix.HOLDOUT, "fresh": eval_matrix.FRESH}[a.matrix]
    os.makedirs(a.out, exist_ok=True)
    found = missed = 0
    print("seed\tagent\tcalls\tsource\tclient\tfound\trisk\tfinding")
    for cell in cells:
        calls, alerts = fleet(a.binary, cell, a.out, a.variant)
        findings = created(alerts)
        for agent, run in episodes(calls, a.family):
            t0, t1 = ms(run[0]["ts"]), ms(run[-1]["ts"])
            hit = [d for d in findings.get(agent, []) if t0 - BEFORE_MS <= d["time"] <= t1 + AFTER_MS]
            found += bool(hit)
            missed += not hit
            first = run[0]
            print("\t".join([
                str(cell[0]), agent, str(len(run)), str(first.get("src_ip")),
                str(first.get("user_agent")), "found" if hit else "missed",
                str(hit[0]["risk_score"]) if hit else "",
                hit[0]["message"].split(": ", 1)[-1][:120] if hit else "",
            ]))
    print(f"# {a.family} on the {a.matrix} matrix: {found} found, {missed} missed", file=sys.stderr)


if __name__ == "__main__":
    main()
