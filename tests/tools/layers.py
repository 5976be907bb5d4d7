#!/usr/bin/env python3
"""tests/tools/layers.py - the structure map of lsnfs, checked.

Builds a graph between source files from their #includes and their calls
(a call from a.c to a function defined in b.c is an arrow a.c -> b.c), then
fails when:
  - files of one directory form a cycle (each directory must be layered);
  - a lower layer points at a higher one (trim <- storage <- node <- fs,
    mount-helpers beside fs);
  - a FUSE header is included outside fs/, or RocksDB outside storage/.
Usage: tests/tools/layers.py [--map]   (--map prints the arrows)
Exit 0 when clean, 1 with one line per problem otherwise.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIRS = ["trim", "storage", "node", "fs", "mount-helpers"]
RANK = {"trim": 0, "storage": 1, "node": 2, "fs": 3, "mount-helpers": 3}

CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
DEF = re.compile(r"^(?:static\s+)?(?:inline\s+)?[A-Za-z_][\w\s\*]*?\b([A-Za-z_]\w*)\s*\([^;]*$", re.M)
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def strip(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def files():
    for d in DIRS:
        path = os.path.join(ROOT, d)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith((".c", ".h")):
                yield f"{d}/{name}"


def main():
    texts = {f: open(os.path.join(ROOT, f), encoding="utf-8").read() for f in files()}
    code = {f: strip(t) for f, t in texts.items()}
    defined = {}
    for f, t in code.items():
        if not f.endswith(".c"):
            continue
        for m in DEF.finditer(t):
            line = t[m.start():t.find("\n", m.start())]
            if line.startswith("static") or m.group(1) == "main":
                continue
            defined.setdefault(m.group(1), f)
    edges = {f: set() for f in texts}
    problems = []
    for f, t in texts.items():
        for kind, inc in INCLUDE.findall(t):
            if kind == "<" and inc.startswith("fuse") and not f.startswith("fs/"):
                problems.append(f"{f}: includes <{inc}> outside fs/")
            if "rocksdb/" in inc and not f.startswith("storage/"):
                problems.append(f"{f}: includes <{inc}> outside storage/")
            if kind == '"' and inc in texts and inc != f:
                edges[f].add(inc)
        if not f.endswith(".c"):
            continue
        for name in set(CALL.findall(code[f])):
            g = defined.get(name)
            if g and g != f:
                edges[f].add(g)
    for f, outs in edges.items():
        for g in outs:
            a, b = f.split("/")[0], g.split("/")[0]
            if a != b and RANK[b] > RANK[a]:
                problems.append(f"{f} -> {g}: {a}/ must not depend on {b}/")
            if a != b and RANK[a] == RANK[b]:
                problems.append(f"{f} -> {g}: {a}/ and {b}/ sit side by side")
    # cycles between .c files within a directory (a header counts as its .c)
    def unit(x):
        return x[:-2] + ".c" if x.endswith(".h") and x[:-2] + ".c" in texts else x
    graph = {}
    for f, outs in edges.items():
        if not f.endswith(".c"):
            continue  # a header's own includes are types, not a dependency of one .c
        u = unit(f)
        graph.setdefault(u, set())
        for g in outs:
            v = unit(g)
            if v != u and v.split("/")[0] == u.split("/")[0]:
                graph[u].add(v)
    index, low, stack, on, sccs = {}, {}, [], set(), []
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                sccs.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for comp in sccs:
        problems.append("cycle: " + " <-> ".join(comp))
    if "--map" in sys.argv:
        for f in sorted(edges):
            for g in sorted(edges[f]):
                print(f"{f} -> {g}")
    for p in problems:
        print(p)
    print(f"layers: {len(texts)} files, {sum(map(len, edges.values()))} arrows, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
