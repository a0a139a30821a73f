#!/usr/bin/env python3
"""Architecture measures of the workspace: the largest source files and functions, and the
module dependency cycles inside each library crate.

    python3 scripts/architecture.py [--top N]

A module is a file under `crates/<crate>/src` (a directory's `mod.rs` and its files count as
one module, named by the directory). An edge A -> B is any `crate::B` path in A's code
(`use crate::B...` or an inline `crate::B::...`) outside `#[cfg(test)]` modules. A cycle is a
strongly connected set of two or more modules. Functions are found by `fn` headers and brace
matching, after comments and string literals are blanked out; their length counts every line
from the header to the closing brace.
"""

import argparse
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CRATES = os.path.join(ROOT, "crates")


def strip(text):
    """Blanks comments, strings and char literals, keeping line breaks and braces outside them."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text[i:j].count("\n"))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text[i:j].count("\n"))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text[i:j].count("\n"))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4])
            out.append("' '")
            i += len(m.group(0))
        elif c == "'" and re.match(r"'\\[ux]", text[i:i + 3]):
            j = text.find("'", i + 1)
            out.append("' '")
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_tests(code):
    """Removes `#[cfg(test)] mod x { ... }` blocks."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", code)
        if not m:
            return code
        depth, j = 0, m.end() - 1
        while j < len(code):
            if code[j] == "{":
                depth += 1
            elif code[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        code = code[: m.start()] + "\n" * code[m.start():j].count("\n") + code[j + 1:]


def functions(code):
    """(name, first line, lines) for every fn with a body."""
    found = []
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        j = m.end()
        depth = 0
        # The body starts at the first `{` outside the signature's brackets; a `;` first means
        # a declaration without a body.
        while j < len(code):
            ch = code[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(code):
            continue
        start_line = code.count("\n", 0, m.start()) + 1
        depth = 0
        k = j
        while k < len(code):
            if code[k] == "{":
                depth += 1
            elif code[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        end_line = code.count("\n", 0, k) + 1
        found.append((m.group(1), start_line, end_line - start_line + 1))
    return found


def rust_files():
    for dirpath, _, names in os.walk(CRATES):
        if "/target" in dirpath:
            continue
        for name in names:
            if name.endswith(".rs"):
                yield os.path.join(dirpath, name)


def module_of(src, path):
    rel = os.path.relpath(path, src)
    first = rel.split(os.sep)[0]
    if first in ("lib.rs", "main.rs"):
        return None
    return first[:-3] if first.endswith(".rs") else first


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    sizes, funcs = [], []
    graphs = {}
    for path in sorted(rust_files()):
        rel = os.path.relpath(path, CRATES)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        sizes.append((text.count("\n"), rel))
        code = strip(text)
        for name, line, length in functions(code):
            funcs.append((length, f"{rel}:{line} {name}"))
        parts = rel.split(os.sep)
        if len(parts) > 2 and parts[1] == "src":
            src = os.path.join(CRATES, parts[0], "src")
            module = module_of(src, path)
            if module is None:
                continue
            graph = graphs.setdefault(parts[0], {})
            edges = graph.setdefault(module, set())
            for m in re.finditer(r"\bcrate::(\w+)", without_tests(code)):
                if m.group(1) != module:
                    edges.add(m.group(1))
            for m in re.finditer(r"\buse\s+crate::\{([^}]*)\}", without_tests(code)):
                for name in re.findall(r"(?:^|,)\s*(\w+)", m.group(1)):
                    if name != module:
                        edges.add(name)

    print(f"## Largest files (of {len(sizes)}, lines)")
    for n, rel in sorted(sizes, reverse=True)[: args.top]:
        print(f"{n:6}  {rel}")
    print(f"\n## Largest functions (of {len(funcs)}, lines)")
    for n, where in sorted(funcs, reverse=True)[: args.top]:
        print(f"{n:6}  {where}")
    over = sum(1 for n, _ in funcs if n > 80)
    print(f"functions over 80 lines: {over}")
    print("\n## Module dependency cycles (library crates, tests excluded)")
    total = 0
    for crate in sorted(graphs):
        graph = {k: {v for v in vs if v in graphs[crate]} for k, vs in graphs[crate].items()}
        for comp in cycles(graph):
            total += 1
            print(f"{crate}: {' <-> '.join(comp)}")
    print(f"cycles: {total}")


if __name__ == "__main__":
    main()
