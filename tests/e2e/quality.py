#!/usr/bin/env python3
"""Sample quality of a 2-D flow against fresh data, computed independently of
the runtime (numpy only): the sliced Wasserstein-2 distance over 256 random
directions, sqrt(mean_theta W2(x.theta, y.theta)^2), each 1-D W2^2 being the
mean squared difference of the sorted projections.

    quality.py SAMPLES.npy [--data toy.moons] [--noise X] [--scale X]
               [--factor X] [--max X | --min X]

Fresh data follow the runtime's documented constructions (runtime/README.md),
written again here in numpy so the check does not trust the runtime:
  toy.moons: scikit-learn's make_moons (upper half circle, and the lower one
    shifted by (1, -0.5), Gaussian noise), then ((x, y) - (0.5, 0.25)) * 4/3;
  toy.eight_gaussians: modes scale * (cos k pi/4, sin k pi/4), noise, / sqrt 2;
  toy.checkerboard: FFJORD's checkerboard on [-2, 2]^2, times scale / 2;
  toy.circles: make_circles (radii 1 and factor, noise), times 2.
`--max` asserts the figure
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


def eight_gaussians(n, scale, noise, rng):
    k = rng.integers(0, 8, n)
    x = scale * np.cos(k * np.pi / 4) + noise * rng.standard_normal(n)
    y = scale * np.sin(k * np.pi / 4) + noise * rng.standard_normal(n)
    return np.stack([x, y], axis=1) / np.sqrt(2)


def checkerboard(n, scale, rng):
    x = rng.random(n) * 4 - 2
    row = rng.integers(0, 2, n)
    y = rng.random(n) - 2 * row + np.mod(np.floor(x), 2)
    return np.stack([x, y], axis=1) * (scale / 2)


def circles(n, noise, factor, rng):
    inner = rng.random(n) < 0.5
    angle = rng.random(n) * 2 * np.pi
    radius = np.where(inner, factor, 1.0)
    x = radius * np.cos(angle) + noise * rng.standard_normal(n)
    y = radius * np.sin(angle) + noise * rng.standard_normal(n)
    return np.stack([x, y], axis=1) * 2


def fresh_data(args, n, rng):
    if args.data == "toy.moons":
        return moons(n, 0.05 if args.noise is None else args.noise, rng)
    if args.data == "toy.eight_gaussians":
        return eight_gaussians(n, args.scale or 4.0, 0.1 if args.noise is None else args.noise, rng)
    if args.data == "toy.checkerboard":
        return checkerboard(n, args.scale or 4.0, rng)
    if args.data == "toy.circles":
        return circles(n, 0.05 if args.noise is None else args.noise, args.factor or 0.8, rng)
    sys.exit(f"quality.py: no reference for {args.data}")


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
    p.add_argument("--noise", type=float)
    p.add_argument("--scale", type=float)
    p.add_argument("--factor", type=float)
    p.add_argument("--max", type=float)
    p.add_argument("--min", type=float)
    p.add_argument("--label", default="samples")
    args = p.parse_args()
    x = np.load(args.samples).astype(np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or not np.all(np.isfinite(x)):
        sys.exit(f"quality.py: expected finite [n, 2] samples, got {x.shape}")
    rng = np.random.default_rng(12345)
    fresh = fresh_data(args, len(x), rng)
    sw = sliced_w2(x, fresh, rng)
    print(f"{args.label}: sliced-W2 to fresh {args.data} = {sw:.4f} (n = {len(x)})")
    if args.max is not None and not sw <= args.max:
        sys.exit(f"FAIL: {sw:.4f} > bar {args.max}")
    if args.min is not None and not sw >= args.min:
        sys.exit(f"FAIL: {sw:.4f} < {args.min}: the baseline should fail the bar")


if __name__ == "__main__":
    main()
