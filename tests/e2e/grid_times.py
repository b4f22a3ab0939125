#!/usr/bin/env python3
"""Checks the times a sampling run stepped through (`sample --metrics-json`'s
"times") against SD3's shift grid in closed form, numpy:

    grid_times.py METRICS.json --shift K --steps N [--tol 1e-6] [--baseline]

The grid t(u) = 1 - K (1 - u) / (1 + (K - 1)(1 - u)) (SD3's shift of sigma
= 1 - t, in flowc's time: 0 the source, 1 the data) at u = k / N. Exits
non-zero when a time differs by more than --tol (with --baseline: unless
one does, for a grid that must fail).
"""
import argparse
import json
import sys

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("metrics")
p.add_argument("--shift", type=float, required=True)
p.add_argument("--steps", type=int, required=True)
p.add_argument("--tol", type=float, default=1e-6)
p.add_argument("--baseline", action="store_true")
args = p.parse_args()
times = np.array(json.load(open(args.metrics)).get("times", []), dtype=np.float64)
u = np.arange(args.steps + 1) / args.steps
k = args.shift
closed = 1 - k * (1 - u) / (1 + (k - 1) * (1 - u))
err = float(np.abs(times - closed).max()) if times.shape == closed.shape else float("inf")
ok = err <= args.tol
print(f"grid: {len(times)} times, max |t - shift({k:g}) closed form| = {err:.3g} "
      f"(tolerance {args.tol:g}) -> {'ok' if ok else 'FAIL'}")
sys.exit((0 if not ok else 1) if args.baseline else (0 if ok else 1))
