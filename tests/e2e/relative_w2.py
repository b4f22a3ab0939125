#!/usr/bin/env python3
"""Compares two samples' sliced Wasserstein-2 distances to the same fresh
data: `relative_w2.py SAMPLES.npy REFERENCE.npy --max-ratio R` passes when
SW2(samples) <= R * SW2(reference) (both against one fresh draw, with the
same projections). With `--baseline` it passes only when the ratio is
above R: a sample that must fail the bar.

    relative_w2.py SAMPLES.npy REFERENCE.npy [--data toy.moons] --max-ratio R
                   [--label L] [--baseline]
"""
import argparse
import sys

import numpy as np

from quality import fresh_data, sliced_w2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("samples")
    p.add_argument("reference")
    p.add_argument("--data", default="toy.moons")
    p.add_argument("--noise", type=float)
    p.add_argument("--scale", type=float)
    p.add_argument("--factor", type=float)
    p.add_argument("--max-ratio", type=float, required=True)
    p.add_argument("--label", default="samples")
    p.add_argument("--baseline", action="store_true")
    args = p.parse_args()
    x = np.load(args.samples).reshape(-1, 2)
    r = np.load(args.reference).reshape(-1, 2)
    data, _ = fresh_data(args, max(len(x), len(r)), np.random.default_rng(12345))
    w_x = sliced_w2(x, data, np.random.default_rng(7))
    w_r = sliced_w2(r, data, np.random.default_rng(7))
    ratio = w_x / w_r
    print(f"{args.label}: sliced-W2 {w_x:.4f}, reference {w_r:.4f}, ratio {ratio:.2f} "
          f"(bar {args.max_ratio:g})")
    ok = ratio <= args.max_ratio
    if args.baseline:
        if ok:
            sys.exit(f"FAIL: the baseline passes the bar: ratio {ratio:.2f} <= {args.max_ratio:g}")
        print(f"{args.label}: fails as it must")
    elif not ok:
        sys.exit(f"FAIL: ratio {ratio:.2f} > {args.max_ratio:g}")


if __name__ == "__main__":
    main()
