#!/usr/bin/env python3
"""Reads `NAME = VALUE` from a program's output and checks VALUE >= MIN.

    metric_at_least.py OUTPUT.txt "NAME" MIN

Prints the value against the bar; exits non-zero when the line is missing
or the value is below MIN.
"""
import re
import sys

path, name, bar = sys.argv[1], sys.argv[2], float(sys.argv[3])
text = open(path).read()
m = re.search(re.escape(name) + r" = ([-+0-9.eE]+|nan)", text)
if not m:
    sys.exit(f"{path}: no line '{name} = ...'")
value = float(m.group(1))
ok = value >= bar
print(f"{name} = {value:.4f} (bar >= {bar:g}) {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
