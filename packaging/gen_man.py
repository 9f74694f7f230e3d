#!/usr/bin/env python3
"""Man pages from the `safehold` binary's own --help (help2man's idea, for CLI11's layout).

usage: packaging/gen_man.py SAFEHOLD OUTDIR
Writes OUTDIR/safehold.1 (the command list) and OUTDIR/safehold-CMD.1 for every subcommand, the
latter holding the --help of CMD and of each of its nested subcommands. The pages carry no date,
so the same binary gives the same pages (reproducible packages).
"""
import os
import re
import subprocess
import sys


def run_help(binary, words):
    r = subprocess.run([binary, *words, "--help"], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"gen_man: {' '.join(['safehold', *words, '--help'])} exited {r.returncode}: {r.stderr}")
    return r.stdout


def subcommands(help_text):
    """(name, description) of the SUBCOMMANDS section of a CLI11 help text."""
    out, inside = [], False
    for line in help_text.splitlines():
        if re.match(r"^(Subcommands|SUBCOMMANDS):\s*$", line):
            inside = True
            continue
        if inside:
            if not line.strip():
                if out:
                    break
                continue
            m = re.match(r"^\s{2,}(\S+)\s*(.*)$", line)
            if not m:
                break
            out.append((m.group(1), m.group(2).strip()))
    return out


def roff(text):
    lines = []
    for line in text.rstrip("\n").splitlines():
        line = line.replace("\\", "\\e")
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def page(name, summary, version, sections):
    out = [f'.TH {name.upper()} 1 "" "{version}" "Safehold manual"',
           ".SH NAME", f"{name.replace('-', chr(92) + '-')} \\- {roff(summary) or 'Safehold command'}"]
    for title, body in sections:
        out += [f".SH \"{title}\"", ".nf", roff(body), ".fi"]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    top = run_help(binary, [])
    cmds = subcommands(top)
    if not cmds:
        sys.exit("gen_man: no subcommands found in `safehold --help`")
    see_also = ", ".join(f"safehold-{c}(1)" for c, _ in cmds)
    with open(os.path.join(outdir, "safehold.1"), "w", encoding="utf-8") as f:
        f.write(page("safehold", "forensic imaging, carving and a safeguarding-first examination queue",
                     version, [("SYNOPSIS", "safehold COMMAND [OPTIONS]"), ("DESCRIPTION", top),
                               ("EXIT STATUS", "0 success; 1 bad usage or unreadable input; 2 the "
                                "operation failed (or met damaged evidence); 3 acquire: unreadable\n"
                                "sectors zero-filled and recorded; 4 verification mismatch"),
                               ("SEE ALSO", see_also)]))
    for cmd, summary in cmds:
        sections = [("DESCRIPTION", run_help(binary, [cmd]))]
        todo = [[cmd, s] for s, _ in subcommands(sections[0][1])]
        while todo:
            words = todo.pop(0)
            text = run_help(binary, words)
            sections.append((" ".join(["safehold", *words]).upper(), text))
            todo += [words + [s] for s, _ in subcommands(text)]
        sections.append(("SEE ALSO", "safehold(1)"))
        with open(os.path.join(outdir, f"safehold-{cmd}.1"), "w", encoding="utf-8") as f:
            f.write(page(f"safehold-{cmd}", summary, version, sections))


if __name__ == "__main__":
    main()
