#!/usr/bin/env python3
"""How far restored points are from their clean originals, as a share of
how far the noisy inputs were: mean |restored - clean| / mean |noisy -
clean| over paired rows.

  restoration.py clean.npy noisy.npy restored.npy --max-ratio 0.6
  restoration.py clean.npy noisy.npy baseline.npy --min-ratio 0.6   # must fail
"""
import argparse
import sys

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("clean")
ap.add_argument("noisy")
ap.add_argument("restored")
ap.add_argument("--max-ratio", type=float)
ap.add_argument("--min-ratio", type=float)
ap.add_argument("--label", default="")
args = ap.parse_args()
clean, noisy, restored = (np.load(p).astype(np.float64).reshape(-1, 2)
                          for p in (args.clean, args.noisy, args.restored))
if not clean.shape == noisy.shape == restored.shape:
    sys.exit(f"{args.label}: shapes differ: {clean.shape}, {noisy.shape}, {restored.shape}")
before = float(np.linalg.norm(noisy - clean, axis=1).mean())
after = float(np.linalg.norm(restored - clean, axis=1).mean())
ratio = after / before
print(f"[ measured ] {args.label}: mean distance to the clean points {after:.4f}, "
      f"noisy inputs {before:.4f}: ratio {ratio:.3f}")
ok = (args.max_ratio is None or ratio <= args.max_ratio) and (
    args.min_ratio is None or ratio >= args.min_ratio)
sys.exit(0 if ok else 1)
