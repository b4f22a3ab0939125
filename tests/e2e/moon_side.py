#!/usr/bin/env python3
"""The share of samples on each moon of toy.moons, by the nearest of the two
noise-free arcs (the upper moon (cos s, sin s), class 0; the lower moon
(1 - cos s, 0.5 - sin s), class 1; s in [0, pi]; both mapped by
(p - (0.5, 0.25)) * 4/3, as the runtime's generator does). Independent of
the runtime's own accuracy figure.

  moon_side.py s.npy --upper-min 0.9     # at least 90% on the upper moon
  moon_side.py s.npy --lower-min 0.9
  moon_side.py s.npy --upper-max 0.7     # a baseline: about half
"""
import argparse
import sys

import numpy as np


def arcs():
    s = np.linspace(0, np.pi, 2001)
    shift = np.array([0.5, 0.25])
    upper = (np.stack([np.cos(s), np.sin(s)], 1) - shift) * 4 / 3
    lower = (np.stack([1 - np.cos(s), 0.5 - np.sin(s)], 1) - shift) * 4 / 3
    return upper, lower


def nearest(points, arc):
    d = np.full(len(points), np.inf)
    for i in range(0, len(points), 2000):
        chunk = points[i:i + 2000]
        d[i:i + 2000] = np.sqrt(((chunk[:, None, :] - arc[None]) ** 2).sum(-1)).min(1)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--upper-min", type=float)
    ap.add_argument("--lower-min", type=float)
    ap.add_argument("--upper-max", type=float)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    x = np.load(args.samples).reshape(-1, 2).astype(np.float64)
    upper, lower = arcs()
    on_upper = float((nearest(x, upper) < nearest(x, lower)).mean())
    print(f"[ measured ] {args.label}: {on_upper:.4f} of {len(x)} samples on the upper moon, "
          f"{1 - on_upper:.4f} on the lower")
    ok = True
    if args.upper_min is not None:
        ok &= on_upper >= args.upper_min
    if args.lower_min is not None:
        ok &= 1 - on_upper >= args.lower_min
    if args.upper_max is not None:
        ok &= on_upper <= args.upper_max
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
