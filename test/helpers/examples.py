#!/usr/bin/python3
"""examples.py: the examples of botpipe's README and man pages, as a reader
sees them, for test/examples.bats.

    examples.py list FILE...     one line per example: FILE, a tab, its first line
    examples.py get FILE KEY     the one example of FILE that contains KEY
    examples.py all FILE KEY     every example of FILE that contains KEY (one
                                 at least), in the page's order, each ended
                                 by a NUL byte
    examples.py check BATS FILE...
                                 print each example of the FILEs that no
                                 `example FILE KEY` or `examples FILE KEY`
                                 call of the bats file BATS names, and each
                                 key that names none (or, for `example`,
                                 several); exit 1 if any

An example is every literal display of a man page (.Bd -literal ... .Ed and
.Dl, wherever they are) and every indented code block of a markdown file.
A man page is rendered by mandoc, so an example reads as the page shows it
(escapes resolved, a word that mdoc takes for a macro gone): each display
is framed by marker lines in a copy of the source, and what mandoc prints
between the markers, less their indentation, is the example.
"""
import re
import subprocess
import sys

BEGIN, END = "@@example-begin@@", "@@example-end@@"


def mark_page(src):
    """The page's source with a marker line around each literal display."""
    out, literal = [], False
    for line in src.split("\n"):
        if literal and line.startswith(".Ed"):
            out += [END, line]
            literal = False
        elif line.startswith(".Bd") and "-literal" in line.split():
            out += [line, BEGIN]
            literal = True
        elif line.startswith(".Dl ") and not literal:
            out += [".Dl " + BEGIN, line, ".Dl " + END]
        else:
            out.append(line)
    return "\n".join(out)


def page_examples(path):
    with open(path, encoding="utf-8") as f:
        marked = mark_page(f.read())
    shown = subprocess.run(["mandoc", "-Tutf8", "-Owidth=300"], input=marked,
                           capture_output=True, text=True, check=True).stdout
    shown = re.sub(r".\x08", "", shown)   # bold and underline overstrikes
    examples, block, indent = [], None, 0
    for line in shown.split("\n"):
        if line.strip() == BEGIN:
            block, indent = [], len(line) - len(line.lstrip())
        elif line.strip() == END and block is not None:
            examples.append("\n".join(block).strip("\n"))
            block = None
        elif block is not None:
            block.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
    return examples


def markdown_examples(path):
    """Indented code blocks: after a blank line, lines of 4 or more spaces
    (blank lines inside kept)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    examples, block, prev_blank, fenced = [], None, True, False
    for line in lines + [""]:
        if line.startswith("```"):
            fenced = not fenced
        if block is not None:
            if line.startswith("    ") or (line.strip() == ""):
                block.append(line[4:])
                continue
            examples.append("\n".join(block).strip("\n"))
            block = None
        if not fenced and prev_blank and line.startswith("    "):
            block = [line[4:]]
        prev_blank = line.strip() == ""
    if block is not None:
        examples.append("\n".join(block).strip("\n"))
    return examples


def examples_of(path):
    return markdown_examples(path) if path.endswith(".md") else page_examples(path)


CALL = re.compile(r"""\b(examples?) ([\w./-]+) (?:'([^']*)'|"((?:[^"\\]|\\.)*)")""")


def claims_of(bats):
    """The (FILE, KEY, several) of every `example FILE KEY` and `examples
    FILE KEY` call outside comments; KEY in single quotes, or in double
    quotes with backslash escapes."""
    claims = []
    with open(bats, encoding="utf-8") as f:
        for line in f:
            if line.lstrip().startswith("#"):
                continue
            for m in CALL.finditer(line):
                key = m.group(3) if m.group(3) is not None else re.sub(r"\\(.)", r"\1", m.group(4))
                claims.append((m.group(2), key, m.group(1) == "examples"))
    return claims


def main(argv):
    if len(argv) >= 3 and argv[1] == "list":
        for path in argv[2:]:
            for ex in examples_of(path):
                print("%s\t%s" % (path, ex.split("\n")[0]))
        return 0
    if len(argv) == 4 and argv[1] == "get":
        path, key = argv[2], argv[3]
        found = [ex for ex in examples_of(path) if key in ex]
        if len(found) != 1:
            print("examples.py: %d examples of %s contain %r" % (len(found), path, key),
                  file=sys.stderr)
            return 1
        print(found[0])
        return 0
    if len(argv) == 4 and argv[1] == "all":
        found = [ex for ex in examples_of(argv[2]) if argv[3] in ex]
        if not found:
            print("examples.py: no example of %s contains %r" % (argv[2], argv[3]), file=sys.stderr)
            return 1
        sys.stdout.write("".join(ex + "\0" for ex in found))
        return 0
    if len(argv) >= 4 and argv[1] == "check":
        claims = claims_of(argv[2])
        argv = argv[1:]
        bad = 0
        for path in argv[2:]:
            keys = [(k, several) for p, k, several in claims if p == path]
            exs = examples_of(path)
            for key, several in keys:
                n = sum(key in ex for ex in exs)
                if n == 0 or (n > 1 and not several):
                    print("%s: the key %r names %d examples" % (path, key, n))
                    bad = 1
            for ex in exs:
                if not any(key in ex for key, _ in keys):
                    print("%s: no test runs the example %r" % (path, ex.split("\n")[0]))
                    bad = 1
        for p, k, _ in claims:
            if p not in argv[2:]:
                print("%s: not a page with examples (key %r)" % (p, k))
                bad = 1
        return bad
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
