#!/usr/bin/env python3
"""Checks the module edges of docs/ARCHITECTURE.md against the tree.

Reads the "Modules and allowed edges" table (first column `module/`, second the modules it may
use), then fails when
  - a file of module M includes "X/..." for a module X outside M's closure,
  - a CMake target safehold_M links safehold_X outside M's closure,
  - a file outside fs/ (and tests/fs/) includes "fs/internal/...",
  - a folder holds C++ sources but is not in the table,
  - project headers include each other in a cycle.
tests/<module>/ follow their module's row plus tests/common and their own folder; bench/ and
tests/identity/ may use everything. Prints one line per violation: file:line: what and why.
usage: .ci/check_layers.py [REPO_ROOT]
"""
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
arch = open(os.path.join(root, "docs", "ARCHITECTURE.md"), encoding="utf-8").read()

deps = {}
for line in arch.splitlines():
    m = re.match(r"^\|\s*`([a-z_]+)/`\s*\|([^|]*)\|", line)
    if m:
        deps[m.group(1)] = set(re.findall(r"`([a-z_]+)/`", m.group(2)))
if not deps:
    sys.exit("check_layers: no module table found in docs/ARCHITECTURE.md")
for mod, ds in deps.items():
    for d in ds:
        if d not in deps:
            sys.exit(f"check_layers: docs/ARCHITECTURE.md: {mod}/ may use {d}/, which is not in the table")


def closure(mod):
    seen, todo = set(), [mod]
    while todo:
        m = todo.pop()
        for d in deps.get(m, ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen | {mod}


# A cycle in the table is itself a violation.
errors = []
for mod in deps:
    if any(mod in closure(d) for d in deps[mod]):
        errors.append(f"docs/ARCHITECTURE.md: {mod}/ is part of a dependency cycle")

include_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
header_edges = {}
src_ext = (".cpp", ".hpp", ".h", ".c", ".cc")
skip_dirs = {".git", "build", "node_modules", "demo-out"}
for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in skip_dirs and not d.startswith("build")]
    rel_dir = os.path.relpath(dirpath, root)
    parts = [] if rel_dir == "." else rel_dir.split(os.sep)
    for fn in filenames:
        if not fn.endswith(src_ext):
            continue
        rel = os.path.join(rel_dir, fn) if parts else fn
        if not parts:
            errors.append(f"{rel}: C++ source at the top level belongs in a module folder")
            continue
        top = parts[0]
        if top == "bench" or (top == "tests" and len(parts) > 1 and parts[1] in ("identity",)):
            continue
        if top == "tests":
            if len(parts) < 2:
                continue
            owner = parts[1]
            if owner == "common":
                allowed = set(deps)  # shared test support: may use any module
                own_tests = {"common"}
            elif owner in deps:
                allowed = closure(owner)
                own_tests = {"common"} | closure(owner)
            else:
                errors.append(f"{rel}: tests/{owner}/ matches no module of docs/ARCHITECTURE.md")
                continue
        elif top in deps:
            owner, allowed, own_tests = top, closure(top), set()
        else:
            errors.append(f"{rel}: folder {top}/ is not a module of docs/ARCHITECTURE.md")
            continue
        with open(os.path.join(dirpath, fn), encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                m = include_re.match(line)
                if not m:
                    continue
                inc = m.group(1)
                if rel.endswith((".hpp", ".h")):
                    header_edges.setdefault(rel, set()).add(inc)
                first = inc.split("/")[0]
                if "/" not in inc:
                    continue  # same-folder or library header
                if first == "tests":
                    t = inc.split("/")[1]
                    if t not in own_tests:
                        errors.append(f"{rel}:{no}: includes {inc}: tests of {owner}/ may not use tests/{t}/")
                    continue
                if inc.startswith("fs/internal/") and owner != "fs":
                    errors.append(f"{rel}:{no}: includes {inc}: fs/internal/ is private to fs/")
                    continue
                if first in deps and first not in allowed:
                    errors.append(
                        f"{rel}:{no}: includes {inc}: {owner}/ may not use {first}/ "
                        f"(docs/ARCHITECTURE.md allows {', '.join(sorted(allowed - {owner})) or 'nothing'})")

# Header include cycles (a.hpp -> b.hpp -> a.hpp), found by depth-first search.
state = {}


def visit(h, stack):
    state[h] = 1
    for n in sorted(header_edges.get(h, ())):
        if state.get(n) == 1:
            cyc = stack[stack.index(n):] + [n] if n in stack else [h, n]
            errors.append("include cycle: " + " -> ".join(cyc))
        elif n in header_edges and not state.get(n):
            visit(n, stack + [n])
    state[h] = 2


for h in sorted(header_edges):
    if not state.get(h):
        visit(h, [h])

# CMake link edges of the module libraries.
for mod in deps:
    cm = os.path.join(root, mod, "CMakeLists.txt")
    if not os.path.exists(cm):
        errors.append(f"{mod}/CMakeLists.txt: missing (every module is a library)")
        continue
    text = open(cm, encoding="utf-8").read()
    for used in set(re.findall(r"\bsafehold_([a-z]+)\b", text)):
        if used in deps and used not in closure(mod):
            errors.append(f"{mod}/CMakeLists.txt: links safehold_{used}: {mod}/ may not use {used}/")

for e in errors:
    print(e)
if errors:
    print(f"check_layers: {len(errors)} violation(s) of docs/ARCHITECTURE.md")
    sys.exit(1)
print(f"check_layers: {len(deps)} modules, every include and link edge allowed")
