#!/usr/bin/env python3
"""The size rules of docs/ARCHITECTURE.md ("What CI enforces"): no C++ source file over MAX_FILE
lines and no function body over MAX_FUNCTION lines, tests included. A function is a brace block
whose head (the text since the previous ';', '{' or '}') ends in a parameter list, optionally
followed by qualifiers, a trailing return type or a constructor's initialiser list; lambdas inside
a function count as part of it. Comments, strings and raw strings are blanked first, so embedded
pages (raw-string HTML/JS) do not count as code. Prints each breach as path:line and exits 1.

usage: .ci/check_sizes.py [FILE...]   (default: every *.cpp/*.hpp/*.c git tracks)"""
import os
import re
import subprocess
import sys

MAX_FILE = 850
MAX_FUNCTION = 150

# Generated tables and data may be longer: none today. Add "path" entries with the reason.
EXEMPT = {}


def blank(src):
    def keep_lines(m):
        return "\n" * m.group(0).count("\n")

    src = re.sub(r'R"([^(\s]*)\((.*?)\)\1"', lambda m: '""' + keep_lines(m), src, flags=re.S)
    src = re.sub(r"/\*.*?\*/", keep_lines, src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    src = re.sub(r"'(\\.|[^'\\\n])*'", "''", src)
    return src


HEAD_FUNCTION = re.compile(
    r"\)\s*(const|noexcept|override|final|mutable|volatile|&|&&|\s)*"
    r"(->\s*[\w:<>,\s*&]+)?\s*$"
    r"|\)\s*:\s*[\w:]+\s*[({].*$",  # constructor with an initialiser list
    re.S,
)
NOT_FUNCTION = re.compile(r"^\s*(if|for|while|switch|catch|else\s+if)\b|^\s*(do|else|try)\s*$")


def functions(text):
    """Yields (first line, line count) of each outermost function body."""
    depth = 0
    stack = []  # (line, is_function)
    head_start = 0
    in_function = 0
    line = 1
    for i, ch in enumerate(text):
        if ch == "\n":
            line += 1
        elif ch == "{":
            head = text[head_start:i]
            is_fn = in_function == 0 and bool(HEAD_FUNCTION.search(head)) and not NOT_FUNCTION.search(
                head.strip().split("\n")[-1] if head.strip() else ""
            )
            stack.append((line, is_fn))
            if is_fn:
                in_function += 1
            depth += 1
            head_start = i + 1
        elif ch == "}":
            depth -= 1
            if stack:
                start, is_fn = stack.pop()
                if is_fn:
                    in_function -= 1
                    yield start, line - start + 1
            head_start = i + 1
        elif ch == ";":
            head_start = i + 1


def main(paths):
    if not paths:
        paths = subprocess.check_output(
            ["git", "ls-files", "*.cpp", "*.hpp", "*.c"], text=True
        ).split()
    bad = []
    for path in paths:
        if path in EXEMPT or not os.path.exists(path):  # deleted in the work tree
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            src = f.read()
        n = src.count("\n")
        if n > MAX_FILE:
            bad.append(f"{path}:1: {n} lines (the limit is {MAX_FILE}): split it along a seam")
        for start, count in functions(blank(src)):
            if count > MAX_FUNCTION:
                bad.append(
                    f"{path}:{start}: a function of {count} lines (the limit is {MAX_FUNCTION})"
                )
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
