#!/usr/bin/env python3
"""Compiles every Flow example in the docs.

    check_docs.py FLOWC DOCS_DIR_OR_MD_FILE... [--emit STAGE] [-v]

Scans each Markdown file for fenced code blocks and checks them with flowc:

  ```flow              a complete spec; `flowc --emit=STAGE` must succeed.
  ```flow-ast          a complete spec that must pass the front end
                       (`flowc --emit=ast`), for constructs whose code
                       generation is not finished yet.
  ```flow-error        a spec with a mistake; flowc must reject it with an
                       "error:" diagnostic and exit status 1 (not a crash).
  ```flow file=NAME    also written to NAME in the file's work folder first,
                       so that later blocks can `import "NAME"`.
  ```csv file=NAME     (any other language with file=) only written to NAME,
                       for specs that read it: file("NAME", ...).
  ```flow needs=PATH   an empty PATH is made first, standing for a file that
                       another run writes (checkpoint("PATH")): the block is
                       compiled, not run.
  ```text              when it directly follows a flow-error block (only
                       blank lines between), its lines must be the first
                       lines flowc prints for that block.

Blocks of one Markdown file share a temporary work folder; each block is
written there as `spec.flow` and compiled from that folder, so diagnostics
print as `spec.flow:LINE:COL: error: ...`. STAGE defaults to mlir-kernels,
which runs Sema, MLIRGen and the flow passes (time derivatives, kernel
outlining, solver expansion) and so also catches errors found by passes.

Failures are reported as `docs/FILE.md:LINE: ...` (LINE is the opening
fence) with flowc's output; the exit status is 1 if any block failed.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$")


class Block:
    def __init__(self, path, line, lang, attrs, text):
        self.path = path
        self.line = line  # 1-based line of the opening fence
        self.lang = lang
        self.attrs = attrs
        self.text = text
        self.expected_output = None  # lines of a following ```text block


def parse_attrs(rest):
    attrs = {}
    for item in rest.split():
        if "=" in item:
            k, v = item.split("=", 1)
            attrs[k] = v
    return attrs


def extract_blocks(path):
    """Returns the fenced blocks of a Markdown file, in order."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks = []
    i = 0
    last_error_block = None  # flow-error block waiting for its output
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                last_error_block = None
            i += 1
            continue
        indent, fence, lang, rest = m.groups()
        start = i
        body = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and close.strip(fence[0]) == "":
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        if i >= len(lines):
            raise SystemExit(f"{path}:{start + 1}: unterminated code block")
        i += 1  # past the closing fence
        if lang == "text" and last_error_block is not None:
            last_error_block.expected_output = body
            last_error_block = None
            continue
        block = Block(path, start + 1, lang, parse_attrs(rest), "\n".join(body) + "\n")
        if lang in ("flow", "flow-ast", "flow-error") or "file" in block.attrs:
            blocks.append(block)
        last_error_block = block if lang == "flow-error" else None
    return blocks


def run_flowc(flowc, emit, workdir):
    try:
        proc = subprocess.run(
            [flowc, f"--emit={emit}", "spec.flow"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return None, "flowc timed out after 120 s"
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def check_file(flowc, emit, path, verbose):
    blocks = extract_blocks(path)
    failures = 0
    # Shown as docs/FILE.md whatever the working folder (lit runs elsewhere).
    abspath = os.path.abspath(path)
    rel = os.path.join(os.path.basename(os.path.dirname(abspath)), os.path.basename(abspath))
    with tempfile.TemporaryDirectory(prefix="flowc-docs-") as work:
        for b in blocks:
            if "file" in b.attrs:
                with open(os.path.join(work, b.attrs["file"]), "w", encoding="utf-8") as f:
                    f.write(b.text)
            if "needs" in b.attrs:
                needed = os.path.join(work, b.attrs["needs"])
                os.makedirs(os.path.dirname(needed), exist_ok=True)
                open(needed, "w").close()
        for b in blocks:
            if b.lang not in ("flow", "flow-ast", "flow-error"):
                continue  # a data file (```csv file=NAME), written above
            with open(os.path.join(work, "spec.flow"), "w", encoding="utf-8") as f:
                f.write(b.text)
            rc, out = run_flowc(flowc, "ast" if b.lang == "flow-ast" else emit, work)
            problem = None
            if b.lang in ("flow", "flow-ast"):
                if rc != 0:
                    problem = f"flow block does not compile (exit {rc})"
            else:
                if rc == 0:
                    problem = "flow-error block compiles, but should be rejected"
                elif rc != 1:
                    problem = f"flowc did not exit with status 1 but {rc} (crash?)"
                elif "error:" not in out:
                    problem = "flowc failed without an 'error:' diagnostic"
                elif b.expected_output is not None:
                    want = [l.rstrip() for l in b.expected_output]
                    while want and not want[-1]:
                        want.pop()
                    got = [l.rstrip() for l in out.split("\n")]
                    if got[: len(want)] != want:
                        problem = ("the text block after this flow-error block is not what "
                                   "flowc prints; expected:\n" + "\n".join(want))
            if problem:
                failures += 1
                print(f"{rel}:{b.line}: {problem}")
                print("  flowc printed:")
                for l in out.rstrip().split("\n")[:20]:
                    print("  | " + l)
            elif verbose:
                print(f"{rel}:{b.line}: ok ({b.lang})")
    return len(blocks), failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("flowc", help="path of the flowc executable")
    ap.add_argument("paths", nargs="+", help="Markdown files or folders of them")
    ap.add_argument("--emit", default="mlir-kernels",
                    help="stage flowc must reach (default: mlir-kernels)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if not os.access(args.flowc, os.X_OK):
        print(f"check_docs: flowc not found or not executable: {args.flowc}")
        return 2
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            files += sorted(os.path.join(p, n) for n in os.listdir(p) if n.endswith(".md"))
        else:
            files.append(p)
    total = failed = 0
    for path in files:
        n, f = check_file(os.path.abspath(args.flowc), args.emit, path, args.verbose)
        total += n
        failed += f
    if total == 0:
        print("check_docs: no ```flow, ```flow-ast or ```flow-error blocks found in " + ", ".join(args.paths))
        return 1
    nfiles = f"{len(files)} file" + ("" if len(files) == 1 else "s")
    print(f"check_docs: {total - failed} of {total} blocks in {nfiles} passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
