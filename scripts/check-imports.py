#!/usr/bin/env python3
"""Fails when modules of src/ import each other in a cycle.

Reads every `crate::` and `super::` path in src/ (test modules left out),
maps each to the module it names, and looks for strongly connected
components at each depth of the module tree (`engine`, `engine::agent`,
...). Rust allows cycles inside one crate; this keeps the graph running one
way (docs/architecture.md).
"""
import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_path(f):
    p = os.path.relpath(f, ROOT)[:-3].split(os.sep)
    if p[-1] in ("mod", "lib", "main"):
        p = p[:-1]
    return tuple(p)


def main():
    files = [os.path.join(d, f) for d, _, fs in os.walk(ROOT) for f in fs if f.endswith(".rs")]
    # The binary's own modules (cli) sit above the library.
    mods = {module_path(f): f for f in files if not module_path(f)[:1] == ("cli",)}
    failed = False
    for depth in (1, 2, 3):
        key = lambda p: "::".join(p[:depth]) if p else "<root>"
        edges = collections.defaultdict(set)
        for m, f in mods.items():
            src = open(f).read()
            cut = src.find("#[cfg(test)]")
            if cut >= 0:
                src = src[:cut]
            base_super = list(m[:-1])
            for kind, pat in (("crate", r"crate::([a-z_0-9]+(?:::[a-z_0-9]+)*)"),
                              ("super", r"super::([a-z_0-9]+(?:::[a-z_0-9]+)*)")):
                for mm in re.finditer(pat, src):
                    tgt = mm.group(1).split("::")
                    if kind == "super":
                        tgt = base_super + tgt
                    while tgt and tuple(tgt) not in mods:
                        tgt = tgt[:-1]
                    if not tgt:
                        continue
                    a, b = key(list(m)), key(tgt)
                    if a != b and not b.startswith(a + "::") and not a.startswith(b + "::"):
                        edges[a].add(b)
        index, low, stack, on, counter = {}, {}, [], set(), [0]
        sys.setrecursionlimit(10000)

        def visit(v):
            nonlocal failed
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on.add(v)
            for w in edges.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    failed = True
                    print(f"import cycle: {' <-> '.join(sorted(comp))}", file=sys.stderr)

        for v in sorted(set(edges) | {x for s in edges.values() for x in s}):
            if v not in index:
                visit(v)
    if failed:
        sys.exit(1)
    print("imports: no cycles between modules (depths 1-3)")


if __name__ == "__main__":
    main()
