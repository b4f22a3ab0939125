#!/usr/bin/env python3
"""Checks a learned source m(y) exported by `export --model m`: each class's
source point must sit nearer its own class's mean than the other's, and the
two must be apart (a share of the distance between the class means).

  learned_source.py m.pt                    # passes for a trained m
  learned_source.py m.pt --expect-fail      # an untrained m must fail
  learned_source.py a.pt --same b.pt        # two exports compute the same m
"""
import argparse
import sys

import numpy as np
import torch


def moons_means():
    """The class means of toy.moons without noise: class 0 the upper moon
    (cos s, sin s), class 1 the lower (1 - cos s, 0.5 - sin s), s in
    [0, pi], both mapped by (p - (0.5, 0.25)) * 4/3 as the runtime does."""
    s = np.linspace(0, np.pi, 100001)
    upper = np.stack([np.cos(s), np.sin(s)], 1).mean(0)
    lower = np.stack([1 - np.cos(s), 0.5 - np.sin(s)], 1).mean(0)
    shift = np.array([0.5, 0.25])
    return (upper - shift) * 4 / 3, (lower - shift) * 4 / 3


def source_points(path):
    m = torch.jit.load(path)
    with torch.no_grad():
        return m.forward(torch.tensor([[0.0], [1.0]])).numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("module")
    ap.add_argument("--expect-fail", action="store_true")
    ap.add_argument("--same")
    args = ap.parse_args()
    points = source_points(args.module)
    if args.same:
        other = source_points(args.same)
        diff = float(np.abs(points - other).max())
        print(f"[ measured ] |m_a - m_b| max = {diff:.3g}")
        return 0 if diff == 0 else 1
    upper, lower = moons_means()
    gap = np.linalg.norm(upper - lower)
    d0 = [np.linalg.norm(points[0] - upper), np.linalg.norm(points[0] - lower)]
    d1 = [np.linalg.norm(points[1] - lower), np.linalg.norm(points[1] - upper)]
    apart = np.linalg.norm(points[0] - points[1])
    ok = d0[0] < d0[1] and d1[0] < d1[1] and apart > 0.25 * gap
    print(f"[ measured ] m(0) = {points[0].round(3)}, m(1) = {points[1].round(3)}, "
          f"apart {apart:.3f} (class means {gap:.3f} apart); nearer own class: "
          f"{d0[0] < d0[1]}, {d1[0] < d1[1]}")
    if args.expect_fail:
        return 0 if not ok else 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
