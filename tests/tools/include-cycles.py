#!/usr/bin/env python3
"""Reports include cycles between Syncto's modules.

A module is one concern: include/syncto/sy_<name>.h and the src/ files that
implement it (src/sy_<name>.c, or src/sy_<name>_<part>.c when there is no
header of that longer name, as sy_views_records.c implements sy_views.h).
The program entry points (src/main_*.c) are modules of their own. Module A
depends on module B when a file of A has `#include "syncto/sy_B.h"`.

Prints the graph's size and every cycle (each strongly connected component
of more than one module, with the include lines that close it), and exits
1 when there is one, 0 otherwise, 2 on a usage error.

Known cycles still to be broken are listed in include-cycles.allow next to
this script: one dependency per line, "A -> B  # why", that is left out of
the graph. Each must exist and still close a cycle, so that the list only
ever shrinks: a line that no longer does is an error too.

    python3 tests/tools/include-cycles.py [ROOT]
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"syncto/([A-Za-z0-9_]+)\.h"')


def module_of(stem, headers):
    """The module a file stem belongs to: the longest header stem that is
    the stem itself or a prefix of it followed by '_'."""
    best = None
    for h in headers:
        if (stem == h or stem.startswith(h + "_")) and (best is None or len(h) > len(best)):
            best = h
    return best if best is not None else stem


def scan(root):
    inc = os.path.join(root, "include", "syncto")
    src = os.path.join(root, "src")
    if not os.path.isdir(inc) or not os.path.isdir(src):
        sys.stderr.write("include-cycles: no include/syncto or src under %s\n" % root)
        sys.exit(2)
    headers = sorted(f[:-2] for f in os.listdir(inc) if f.endswith(".h"))
    files = [(os.path.join("include", "syncto", f + ".h"), f) for f in headers]
    files += [(os.path.join("src", f), f[:-2]) for f in sorted(os.listdir(src)) if f.endswith(".c")]
    edges = {}  # (from, to) -> first "file:line" that makes it
    nodes = set()
    for rel, stem in files:
        mod = module_of(stem, headers)
        nodes.add(mod)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if m is None:
                    continue
                target = m.group(1)
                if target not in headers:
                    sys.stderr.write("include-cycles: %s:%d includes a header that does not exist: "
                                     "syncto/%s.h\n" % (rel, lineno, target))
                    sys.exit(2)
                if target != mod:
                    edges.setdefault((mod, target), "%s:%d" % (rel, lineno))
    return nodes, edges


def components(nodes, edges):
    """Tarjan's strongly connected components, iteratively."""
    succ = {n: sorted(t for (f, t) in edges if f == n) for n in nodes}
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in sorted(nodes):
        if start in index:
            continue
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                out.append(sorted(comp))
    return out


ALLOW_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*->\s*([A-Za-z0-9_]+)\s*#\s*(\S.*)$")


def read_allowed(path):
    """{(from, to): reason} of the allow file; a line without a reason is an
    error."""
    allowed = {}
    if not os.path.exists(path):
        return allowed
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip() == "" or line.lstrip().startswith("#"):
                continue
            m = ALLOW_LINE.match(line)
            if m is None:
                sys.stderr.write("include-cycles: %s:%d: expected \"A -> B  # why\"\n" % (path, lineno))
                sys.exit(2)
            allowed[(m.group(1), m.group(2))] = m.group(3).strip()
    return allowed


def closes_cycle(nodes, edges, edge):
    """True when edge (a, b) is part of a cycle of edges + edge: b reaches a."""
    a, b = edge
    succ = {}
    for (f, t) in edges:
        succ.setdefault(f, []).append(t)
    seen, todo = {b}, [b]
    while todo:
        n = todo.pop()
        if n == a:
            return True
        for t in succ.get(n, []):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    return False


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    nodes, edges = scan(os.path.abspath(root))
    allowed = read_allowed(os.path.join(os.path.dirname(os.path.abspath(__file__)), "include-cycles.allow"))
    print("include-cycles: %d modules, %d dependencies" % (len(nodes), len(edges)))
    stale = 0
    for edge, reason in sorted(allowed.items()):
        where = edges.pop(edge, None)
        if where is None:
            print("stale allowance: %s -> %s is no dependency any more: remove it" % edge)
            stale += 1
        elif not closes_cycle(nodes, edges, edge):
            print("stale allowance: %s -> %s (%s) closes no cycle any more: remove it" % (edge + (where,)))
            stale += 1
        else:
            print("known cycle, allowed: %s -> %s  (%s): %s" % (edge + (where, reason)))
    cycles = [c for c in components(nodes, edges) if len(c) > 1]
    for comp in cycles:
        members = set(comp)
        print("cycle: %s" % " <-> ".join(comp))
        for (f, t), where in sorted(edges.items()):
            if f in members and t in members:
                print("  %s -> %s  (%s)" % (f, t, where))
    if cycles or stale:
        print("include-cycles: %d cycle(s), %d stale allowance(s)" % (len(cycles), stale))
        return 1
    print("include-cycles: no cycle" + (" besides the %d allowed" % len(allowed) if allowed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
