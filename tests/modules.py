#!/usr/bin/env python3
"""Which engine module calls which (issue 17 item 27), from the sources.

A function defined at column 0 without `static` in engine/A.c and called in
engine/B.c gives the edge B -> A (comments are left out; cli.c, the
command, is not a module). Prints one line per module, "A -> B C", then
"cycles: none" or each group of modules that reach one another.
usage: python3 tests/modules.py [REPO_ROOT]"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else '.'
src = {}
for path in sorted(glob.glob(os.path.join(root, 'engine', '*.c'))):
    name = os.path.basename(path)[:-2]
    if name != 'cli':
        src[name] = re.sub(r'/\*.*?\*/', '', open(path, encoding='utf-8').read(), flags=re.S)
defined = {}
for mod, text in src.items():
    for fn in re.findall(r'^(?!static\b)[A-Za-z_][\w \*]*?\b(df_\w+)\s*\([^;{]*\)\s*\{', text, re.M):
        defined.setdefault(fn, mod)
edges = {mod: set() for mod in src}
for mod, text in src.items():
    for fn in set(re.findall(r'\b(df_\w+)\s*\(', text)):
        if defined.get(fn, mod) != mod:
            edges[mod].add(defined[fn])
for mod in sorted(edges):
    print('%-14s -> %s' % (mod, ' '.join(sorted(edges[mod]))))

# Tarjan's strongly connected components: a group of two or more is a cycle.
index, low, stack, on_stack, groups = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            group.append(w)
            if w == v:
                break
        if len(group) > 1:
            groups.append(sorted(group))
sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        visit(v)
print('cycles: ' + ('; '.join(' '.join(g) for g in groups) if groups else 'none'))
