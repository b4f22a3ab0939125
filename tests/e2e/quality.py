#!/usr/bin/env python3
"""Sample quality of a 2-D flow against fresh data, computed independently of
the runtime (numpy only): the sliced Wasserstein-2 distance over 256 random
directions, sqrt(mean_theta W2(x.theta, y.theta)^2), each 1-D W2^2 being the
mean squared difference of the sorted projections.

    quality.py SAMPLES.npy --data toy.moons --noise 0.05 [--max X | --min X]

Fresh moons follow scikit-learn's make_moons (upper half circle, and the
lower one shifted by (1, -0.5), Gaussian noise), then the runtime's
documented scaling ((x, y) - (0.5, 0.25)) * 4/3. `--max` asserts the figure
is at most X (a trained model); `--min` that it is at least X (a baseline
that must fail the bar). Prints the figure either way.
"""
import argparse
import sys

import numpy as np


def moons(n, noise, rng):
    lower = rng.random(n) < 0.5
    angle = rng.random(n) * np.pi
    x = np.where(lower, 1 - np.cos(angle), np.cos(angle)) + noise * rng.standard_normal(n)
    y = np.where(lower, 0.5 - np.sin(angle), np.sin(angle)) + noise * rng.standard_normal(n)
    return np.stack([(x - 0.5) * 4 / 3, (y - 0.25) * 4 / 3], axis=1)


def sliced_w2(a, b, rng, projections=256):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    theta = rng.standard_normal((a.shape[1], projections))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    pa, pb = np.sort(a @ theta, axis=0), np.sort(b @ theta, axis=0)
    return float(np.sqrt(np.mean((pa - pb) ** 2)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("samples")
    p.add_argument("--data", default="toy.moons")
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--max", type=float)
    p.add_argument("--min", type=float)
    p.add_argument("--label", default="samples")
    args = p.parse_args()
    if args.data != "toy.moons":
        sys.exit(f"quality.py: no reference for {args.data}")
    x = np.load(args.samples).astype(np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or not np.all(np.isfinite(x)):
        sys.exit(f"quality.py: expected finite [n, 2] samples, got {x.shape}")
    rng = np.random.default_rng(12345)
    fresh = moons(len(x), args.noise, rng)
    sw = sliced_w2(x, fresh, rng)
    print(f"{args.label}: sliced-W2 to fresh moons = {sw:.4f} (n = {len(x)})")
    if args.max is not None and not sw <= args.max:
        sys.exit(f"FAIL: {sw:.4f} > bar {args.max}")
    if args.min is not None and not sw >= args.min:
        sys.exit(f"FAIL: {sw:.4f} < {args.min}: the baseline should fail the bar")


if __name__ == "__main__":
    main()
