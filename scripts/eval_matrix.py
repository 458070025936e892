#!/usr/bin/env python3
"""Detection quality on a fixed matrix of simulator fleets.

Each cell is `warden simulate --agents 300 --seed S --start D --duration L`
piped into `warden replay --report`; the cells' reports are pooled into one
table per threat family (episodes, recall, pooled median delay, revoked),
with false findings per 1,000 agent-days and wrongful revocations.

Three matrices:
  report (default)  seeds 7101-7112, every start weekday, 1-7 days of
                    history: no threshold or constant is tuned on them
                    (their false findings were traced once, to two bugs).
  holdout           the same calendars on seeds 7201-7212 (their false
                    findings were traced once, to versioned places).
  fresh             the same calendars on seeds 7301-7312: never opened.
  dev               seeds 1-3 and 11-13: the fleets tuning looks at.

  --lofo            leave-one-family-out: for each family F, `warden tune`
                    on dev fleets simulated without F (so no tuning step
                    sees F) recommends thresholds; the report matrix is
                    replayed with them and F's recall is reported.

  --variant V       every fleet simulated with departures from the default
                    world (`warden simulate --variant`: mimicry,
                    night-backfills, busy-teams, half-attacks): how the figures hold on
                    fleets unlike the ones the constants were chosen on.

Usage: scripts/eval-matrix.sh [--dev | --holdout | --fresh] [--lofo] [--variant V] [--config FILE] [--out DIR]
"""

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys

# (seed, start, duration): every weekday appears; which teams shift their
# clocks (daylight saving), roll out, migrate or back-fill is drawn by the
# simulator from the seed. Dates lie in the past: replay refuses events
# from the future.
REPORT = [
    (7101, "2026-10-05T00:00:00Z", "3d"),  # Monday
    (7102, "2026-10-13T06:00:00Z", "2d"),  # Tuesday, mid-morning UTC
    (7103, "2026-10-21T00:00:00Z", "4d"),  # Wednesday
    (7104, "2026-10-29T12:00:00Z", "3d"),  # Thursday noon
    (7105, "2026-11-06T00:00:00Z", "7d"),  # Friday, a week
    (7106, "2026-11-14T00:00:00Z", "2d"),  # Saturday
    (7107, "2026-11-22T18:00:00Z", "3d"),  # Sunday evening
    (7108, "2026-09-28T00:00:00Z", "1d"),  # Monday, one day only
    (7109, "2026-09-16T03:00:00Z", "5d"),  # Wednesday night
    (7110, "2026-09-04T00:00:00Z", "3d"),  # Friday
    (7111, "2026-08-23T00:00:00Z", "4d"),  # Sunday
    (7112, "2026-08-11T09:00:00Z", "7d"),  # Tuesday morning, a week
]
# The report matrix's calendars with other seeds (7201-7212): a fresh
# sample for when the report matrix's own fleets have been looked into
# (a false finding traced back to a bug), so one table stays unopened.
HOLDOUT = [(seed + 100, start, dur) for seed, start, dur in REPORT]
# And once the holdout has been looked into as well, seeds 7301-7312.
FRESH = [(seed + 200, start, dur) for seed, start, dur in REPORT]
DEV = [
    (1, None, "3d"),
    (2, None, "3d"),
    (3, None, "3d"),
    (11, "2026-11-23T00:00:00Z", "3d"),  # Monday
    (12, "2026-11-25T00:00:00Z", "4d"),  # Wednesday
    (13, "2026-11-29T00:00:00Z", "2d"),  # Sunday
]
# Families an attacker completes in minutes (the 60-second delay bar).
FAST = {
    "stolen_credential",
    "discovery",
    "privilege_escalation",
    "bulk_exfiltration",
    "permission_probing",
    "cross_tenant",
    "stranger_delegation",
}
AGENTS = "300"


def simulate_command(binary, cell, out="-", variant=""):
    """`warden simulate` of one cell, written to `out` (stdout by default);
    `variant` names the simulator's departures from its default world
    (`warden simulate --variant`), none when empty."""
    seed, start, duration = cell
    sim = [binary, "simulate", "--agents", AGENTS, "--duration", duration,
           "--seed", str(seed), "--out", out]
    if start:
        sim += ["--start", start]
    if variant:
        sim += ["--variant", variant]
    return sim


def run_cell(binary, cell, out_dir, config, without=None, variant=""):
    seed = cell[0]
    tag = f"{seed}" + (f"-without-{without}" if without else "")
    report = os.path.join(out_dir, f"cell-{tag}.json")
    sim = simulate_command(binary, cell, variant=variant)
    if without:
        sim += ["--without-scenarios", without]
    rep = [binary, "replay", "--no-progress", "--report", report]
    if config:
        rep += ["--config", config]
    rep.append("-")
    p1 = subprocess.Popen(sim, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p2 = subprocess.run(rep, stdin=p1.stdout, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, check=False)
    p1.stdout.close()
    if p1.wait() != 0 or p2.returncode != 0:
        sys.exit(f"cell {cell} failed: {p2.stderr.decode(errors='replace')[-2000:]}")
    with open(report) as f:
        return cell, json.load(f)["evaluation"]


def pooled(evals):
    fams = {}
    for ev in evals:
        for s in ev["scenarios"]:
            f = fams.setdefault(s["scenario"], {"episodes": 0, "detected": 0,
                                                "revoked": 0, "delays": []})
            f["episodes"] += s["episodes"]
            f["detected"] += s["detected"]
            f["revoked"] += s["revoked"]
            f["delays"] += s["delays_s"]
    totals = {
        "episodes": sum(f["episodes"] for f in fams.values()),
        "detected": sum(f["detected"] for f in fams.values()),
        "false": sum(ev["false_findings"] for ev in evals),
        "agent_days": sum(ev["agent_days"] for ev in evals),
        "wrongful": sum(ev["wrongful_revocations"] for ev in evals),
        # Absent from a report with no reopenings (and from older builds').
        "reopened": sum(ev.get("findings_reopened", 0) for ev in evals),
        "reopened_outside": sum(ev.get("reopened_outside_attacks", 0) for ev in evals),
        "by_detector": {},
    }
    for ev in evals:
        for k, v in ev["false_findings_by_detector"].items():
            totals["by_detector"][k] = totals["by_detector"].get(k, 0) + v
    return fams, totals


def table(cells, evals):
    fams, t = pooled(evals)
    lines = ["| family | episodes | detected | recall | median delay (s) | revoked |",
             "|---|---:|---:|---:|---:|---:|"]
    for name in sorted(fams):
        f = fams[name]
        rec = f["detected"] / f["episodes"] if f["episodes"] else 0.0
        med = f"{statistics.median(f['delays']):.0f}" if f["delays"] else "-"
        fast = " (fast)" if name in FAST else ""
        lines.append(f"| {name}{fast} | {f['episodes']} | {f['detected']} | {rec:.2f} "
                     f"| {med} | {f['revoked']} |")
    recall = t["detected"] / t["episodes"] if t["episodes"] else 0.0
    per_k = t["false"] * 1000 / t["agent_days"] if t["agent_days"] else 0.0
    lines.append(f"| **all** | {t['episodes']} | {t['detected']} | **{recall:.3f}** | | |")
    lines.append("")
    lines.append(f"False findings: {t['false']} over {t['agent_days']} agent-days = "
                 f"**{per_k:.2f} per 1,000 agent-days**; wrongful revocations: "
                 f"**{t['wrongful']}**.")
    if t["reopened"]:
        lines.append(f"Findings reopened after their Close (not new findings, not counted "
                     f"above): {t['reopened']}, of them outside every attack window: "
                     f"{t['reopened_outside']}.")
    if t["by_detector"]:
        lines.append("False findings by leading detector: " + ", ".join(
            f"{k} {v}" for k, v in sorted(t["by_detector"].items(), key=lambda kv: -kv[1])))
    lines.append("")
    lines.append("| seed | start | history | agent-days | recall | false findings | per 1,000 |")
    lines.append("|---:|---|---|---:|---:|---:|---:|")
    for (seed, start, dur), ev in zip(cells, evals):
        r = ev["recall"]
        lines.append(f"| {seed} | {start or 'default (Fri)'} | {dur} | {ev['agent_days']} | "
                     f"{'-' if r is None else f'{r:.3f}'} | {ev['false_findings']} | "
                     f"{ev['false_findings_per_1000_agent_days']:.2f} |")
    return "\n".join(lines), fams, t


def run_matrix(binary, cells, out_dir, config, jobs, variant=""):
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(
            lambda c: run_cell(binary, c, out_dir, config, variant=variant), cells))
    return [c for c, _ in results], [e for _, e in results]


def lofo(binary, out_dir, jobs, names, dev_fleets, cells, variant=""):
    """Recall on each family with that family withheld from tuning."""
    cache = {}
    rows = []
    for fam in names:
        tune_in = []
        for cell in DEV[:dev_fleets]:
            path = os.path.join(out_dir, f"dev-{cell[0]}-without-{fam}.jsonl")
            sim = simulate_command(binary, cell, path, variant) + ["--without-scenarios", fam]
            subprocess.run(sim, check=True, stderr=subprocess.DEVNULL)
            tune_in.append(path)
        cfg = os.path.join(out_dir, f"tuned-without-{fam}.toml")
        rep = os.path.join(out_dir, f"tune-without-{fam}.json")
        subprocess.run([binary, "tune", "--no-progress", "--budget", "1",
                        "--report", rep, "--write-config", cfg] + tune_in,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in tune_in:
            os.remove(p)
        with open(rep) as f:
            r = json.load(f)["recommendation"]
        key = (r["finding_threshold"], r["revoke_threshold"])
        if key not in cache:
            sub = os.path.join(out_dir, f"lofo-{key[0]:g}-{key[1]:g}")
            os.makedirs(sub, exist_ok=True)
            cache[key] = run_matrix(binary, cells, sub, cfg, jobs, variant)[1]
        fams, _ = pooled(cache[key])
        f = fams.get(fam, {"episodes": 0, "detected": 0})
        rec = f["detected"] / f["episodes"] if f["episodes"] else 0.0
        rows.append((fam, key, f["episodes"], f["detected"], rec))
    lines = ["| withheld family | thresholds tuned without it (finding / revoke) | "
             "episodes | detected | recall |", "|---|---|---:|---:|---:|"]
    for fam, key, n, d, rec in rows:
        lines.append(f"| {fam} | {key[0]:g} / {key[1]:g} | {n} | {d} | {rec:.2f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--dev", action="store_true", help="the tuning fleets instead")
    ap.add_argument("--holdout", action="store_true",
                    help="the report calendars on seeds 7201-7212 instead")
    ap.add_argument("--fresh", action="store_true",
                    help="the report calendars on seeds 7301-7312 instead")
    ap.add_argument("--lofo", action="store_true", help="leave-one-family-out too")
    ap.add_argument("--config", help="warden.toml for every replay")
    ap.add_argument("--variant", default="",
                    help="simulate every fleet with these departures from the default "
                         "world (warden simulate --variant, comma-separated)")
    ap.add_argument("--out", default="out/matrix")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--lofo-dev", type=int, default=3,
                    help="dev fleets each leave-one-out tuning uses")
    ap.add_argument("--lofo-seeds", default="",
                    help="report-matrix seeds it is measured on (default all)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cells = DEV if a.dev else HOLDOUT if a.holdout else FRESH if a.fresh else REPORT
    cells, evals = run_matrix(a.binary, cells, a.out, a.config, a.jobs, a.variant)
    text, fams, _ = table(cells, evals)
    print(text, flush=True)
    if a.lofo:
        print()
        seeds = {int(x) for x in a.lofo_seeds.split(",") if x}
        cells = [c for c in REPORT if not seeds or c[0] in seeds]
        print(lofo(a.binary, a.out, a.jobs, sorted(fams), a.lofo_dev, cells, a.variant))


if __name__ == "__main__":
    main()
