#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks every relative link of the repository's Markdown pages: the file
it names exists, and a #fragment names a heading of that page (as GitHub
makes anchors: lower case, punctuation dropped, spaces as dashes).

    scripts/check_doc_links.py [ROOT]     exit 1 and one line per bad link

Links inside code blocks and links with a scheme (https:, mailto:) are not
checked."""
import os
import re
import subprocess
import sys


def pages(root):
    """The Markdown files git tracks, and the untracked ones it does not
    ignore."""
    out = []
    for extra in ([], ["-o", "--exclude-standard"]):
        r = subprocess.run(["git", "-C", root, "ls-files"] + extra + ["*.md"],
                           capture_output=True, text=True, check=True)
        out += r.stdout.split()
    return out


def without_code(text):
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchors(path):
    found, seen = set(), {}
    for line in without_code(open(path, encoding="utf-8").read()).splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else "%s-%d" % (slug, n))
    return found


def main(root):
    bad = 0
    for page in pages(root):
        path = os.path.join(root, page)
        for link in re.findall(r"\]\(([^)\s]+)\)", without_code(open(path, encoding="utf-8").read())):
            if re.match(r"[a-z][a-z0-9+.-]*:", link):
                continue
            target, _, fragment = link.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), target)) if target else path
            if not os.path.exists(dest):
                print("%s: %s: no such file" % (page, link))
                bad += 1
            elif fragment and dest.endswith(".md") and fragment not in anchors(dest):
                print("%s: %s: no such heading" % (page, link))
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")))
