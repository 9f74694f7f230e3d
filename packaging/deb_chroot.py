#!/usr/bin/env python3
"""Installs a .deb into a clean root assembled offline from this machine's installed packages.

    packaging/deb_chroot.py DEB ROOT

ROOT gets the usr-merged top-level links, then every file of each package the .deb needs (its
Depends and Pre-Depends, and theirs in turn, as installed here; the first installed alternative;
a virtual package by its installed provider) and a dpkg status database listing exactly those
packages. Then `dpkg --root ROOT -i DEB` installs it: dpkg itself checks that Depends is satisfied
by that closure. Nothing else of this machine is in ROOT, so a library the binary needs but the
package does not declare is missing when the caller runs it with `chroot ROOT`.

Prints the packages of the closure, one per line. No network: no package is downloaded.
"""
import os
import re
import shutil
import subprocess
import sys


def installed():
    """Installed packages: name -> (depends, pre_depends, provides, status paragraph)."""
    out = {}
    with open("/var/lib/dpkg/status", encoding="utf-8") as f:
        paragraphs = f.read().split("\n\n")
    for para in paragraphs:
        fields, last = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line
            elif ":" in line:
                last, _, value = line.partition(":")
                fields[last] = value.strip()
        if not fields.get("Status", "").endswith(" installed"):
            continue
        out[fields["Package"]] = (fields.get("Depends", ""), fields.get("Pre-Depends", ""),
                                  fields.get("Provides", ""), para.strip() + "\n")
    return out


def names(relation):
    """'a (>= 1) | b:any, c' -> [['a', 'b'], ['c']]"""
    groups = []
    for group in relation.split(","):
        alts = [re.split(r"[\s(:\[]", a.strip(), maxsplit=1)[0] for a in group.split("|")]
        alts = [a for a in alts if a]
        if alts:
            groups.append(alts)
    return groups


def closure(roots, pkgs):
    providers = {}
    for name, (_, _, provides, _) in pkgs.items():
        for group in names(provides):
            providers.setdefault(group[0], name)
    seen, todo = set(), list(roots)
    while todo:
        alts = todo.pop()
        pick = next((a for a in alts if a in pkgs), None) or next(
            (providers[a] for a in alts if a in providers), None)
        if pick is None:
            sys.exit(f"deb_chroot: none of {' | '.join(alts)} is installed on this machine")
        if pick in seen:
            continue
        seen.add(pick)
        depends, pre, _, _ = pkgs[pick]
        todo.extend(names(depends) + names(pre))
    return sorted(seen)


def copy_files(pkg, root):
    files = subprocess.run(["dpkg-query", "-L", pkg], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    for path in files:
        if not path.startswith("/") or os.path.isdir(path) and not os.path.islink(path):
            continue
        if not os.path.lexists(path):
            continue  # removed by the admin (e.g. excluded documentation)
        dest = root + path
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.lexists(dest):
            continue
        if os.path.islink(path):
            os.symlink(os.readlink(path), dest)
        else:
            shutil.copy2(path, dest)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: deb_chroot.py DEB ROOT")
    deb, root = sys.argv[1], os.path.abspath(sys.argv[2])
    os.makedirs(root, exist_ok=True)
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        if os.path.islink("/" + top):
            target = os.readlink("/" + top)
            os.makedirs(os.path.join(root, target.lstrip("/")), exist_ok=True)
            os.symlink(target, os.path.join(root, top))
    fields = subprocess.run(["dpkg-deb", "--field", deb, "Depends", "Pre-Depends"], check=True,
                            capture_output=True, text=True).stdout
    relation = ",".join(re.sub(r"^[A-Za-z-]+:\s*", "", line) for line in fields.splitlines())
    pkgs = installed()
    want = closure(names(relation), pkgs)
    for pkg in want:
        copy_files(pkg, root)
    admin = os.path.join(root, "var/lib/dpkg")
    for d in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(admin, d), exist_ok=True)
    with open(os.path.join(admin, "status"), "w", encoding="utf-8") as f:
        f.write("\n".join(pkgs[p][3] for p in want))
    open(os.path.join(admin, "available"), "w").close()
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    r = subprocess.run(["dpkg", "--root", root, "--log=/dev/null", "-i", deb],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"deb_chroot: dpkg --root {root} -i {deb} failed:\n{r.stdout}{r.stderr}")
    print("\n".join(want))


if __name__ == "__main__":
    main()
