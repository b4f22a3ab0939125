#!/usr/bin/env python3
"""The mean distance between paired points of two sample files (row i of
each integrated from the same start point), as a share of the data's scale
(the RMS distance of the reference points from their mean).

  mean_distance.py teacher.npy student.npy --max-share 0.05
  mean_distance.py teacher.npy untrained.npy --min-share 0.05   # a baseline
"""
import argparse
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("reference")
ap.add_argument("other")
ap.add_argument("--max-share", type=float)
ap.add_argument("--min-share", type=float)
ap.add_argument("--label", default="")
args = ap.parse_args()
a = np.load(args.reference).astype(np.float64)
b = np.load(args.other).astype(np.float64)
if a.shape != b.shape:
    sys.exit(f"{args.label}: shapes differ: {a.shape} vs {b.shape}")
a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
scale = float(np.sqrt(((a - a.mean(0)) ** 2).sum(1).mean()))
share = float(np.linalg.norm(a - b, axis=1).mean()) / scale
print(f"[ measured ] {args.label}: mean distance {share:.4f} of the data's scale {scale:.3f}")
ok = (args.max_share is None or share <= args.max_share) and (
    args.min_share is None or share >= args.min_share)
sys.exit(0 if ok else 1)
