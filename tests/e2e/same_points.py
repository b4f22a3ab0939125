#!/usr/bin/env python3
"""Checks that two sample files hold the same points up to a tolerance.

    same_points.py A.npy B.npy --max-abs X [--label TEXT]

Prints the largest absolute difference and the points' scale; exits
non-zero when the files differ in shape or by more than X anywhere (for the
whole-trajectory kernel against the per-step path from the same seed).
"""
import argparse
import sys

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("a")
parser.add_argument("b")
parser.add_argument("--max-abs", type=float, required=True)
parser.add_argument("--label", default="")
args = parser.parse_args()
a, b = np.load(args.a), np.load(args.b)
if a.shape != b.shape:
    sys.exit(f"{args.label}: shapes differ: {a.shape} vs {b.shape}")
err = float(np.abs(a.astype(np.float64) - b).max())
scale = float(np.abs(b).max())
ok = np.isfinite(err) and err <= args.max_abs
print(f"{args.label}: max |a - b| = {err:.3g} over {a.shape[0]} points of scale {scale:.3g} "
      f"(bar {args.max_abs:g}) {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
