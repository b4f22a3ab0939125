#!/usr/bin/env python3
"""Reads `NAME = VALUE` from a program's output and checks MIN <= VALUE <= MAX.

    metric_in_range.py OUTPUT.txt "NAME" MIN [MAX] [--outside]

MIN or MAX may be "-" (no bound). Prints the value against the range; exits
non-zero when the line is missing or the value is outside the range. With
`--outside` the value must lie outside it instead: a baseline that must fail
the bar (a missing line is still an error).
"""
import argparse
import re
import sys

p = argparse.ArgumentParser()
p.add_argument("output")
p.add_argument("name")
p.add_argument("min")
p.add_argument("max", nargs="?", default="-")
p.add_argument("--outside", action="store_true")
args = p.parse_args()
lo = -float("inf") if args.min == "-" else float(args.min)
hi = float("inf") if args.max == "-" else float(args.max)
text = open(args.output).read()
m = re.search(re.escape(args.name) + r" = ([-+0-9.eE]+|nan|inf)", text)
if not m:
    sys.exit(f"{args.output}: no line '{args.name} = ...'")
value = float(m.group(1))
inside = lo <= value <= hi
ok = inside != args.outside
want = "outside" if args.outside else "in"
print(f"{args.name} = {value:.4f} (want {want} [{lo:g}, {hi:g}]) {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
