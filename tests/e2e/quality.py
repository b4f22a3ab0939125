#!/usr/bin/env python3
"""Sample quality of a 2-D flow against fresh data, computed independently of
the runtime (numpy only): the sliced Wasserstein-2 distance over 256 random
directions, sqrt(mean_theta W2(x.theta, y.theta)^2), each 1-D W2^2 being the
mean squared difference of the sorted projections.

    quality.py SAMPLES.npy [--data toy.moons] [--noise X] [--scale X]
               [--factor X] [--max X | --min X]
               [--class K [--min-accuracy A | --max-accuracy A]]

Fresh data follow the runtime's documented constructions (runtime/README.md),
written again here in numpy so the check does not trust the runtime:
  toy.moons: scikit-learn's make_moons (upper half circle, and the lower one
    shifted by (1, -0.5), Gaussian noise), then ((x, y) - (0.5, 0.25)) * 4/3;
  toy.eight_gaussians: modes scale * (cos k pi/4, sin k pi/4), noise, / sqrt 2;
  toy.checkerboard: FFJORD's checkerboard on [-2, 2]^2, times scale / 2;
  toy.circles: make_circles (radii 1 and factor, noise), times 2.
Labels as the runtime documents them (moons: 0 upper, 1 lower; Gaussians: k;
checkerboard: 2 * column + row; circles: 0 outer, 1 inner). `--class K`
compares class-conditional samples with the fresh data of class K only, and
measures their accuracy: the fraction whose nearest labelled fresh point
(of 8000) is of class K.
`--max` asserts the figure
is at most X (a trained model); `--min` that it is at least X (a baseline
that must fail the bar). Prints the figure either way.
"""
import argparse
import sys

import numpy as np


# Each generator returns (points [n, 2], labels [n]).
def moons(n, noise, rng):
    lower = rng.random(n) < 0.5
    angle = rng.random(n) * np.pi
    x = np.where(lower, 1 - np.cos(angle), np.cos(angle)) + noise * rng.standard_normal(n)
    y = np.where(lower, 0.5 - np.sin(angle), np.sin(angle)) + noise * rng.standard_normal(n)
    return np.stack([(x - 0.5) * 4 / 3, (y - 0.25) * 4 / 3], axis=1), lower.astype(int)


def eight_gaussians(n, scale, noise, rng):
    k = rng.integers(0, 8, n)
    x = scale * np.cos(k * np.pi / 4) + noise * rng.standard_normal(n)
    y = scale * np.sin(k * np.pi / 4) + noise * rng.standard_normal(n)
    return np.stack([x, y], axis=1) / np.sqrt(2), k


def checkerboard(n, scale, rng):
    x = rng.random(n) * 4 - 2
    row = rng.integers(0, 2, n)
    y = rng.random(n) - 2 * row + np.mod(np.floor(x), 2)
    column = np.floor(x).astype(int) + 2
    return np.stack([x, y], axis=1) * (scale / 2), 2 * column + row


def circles(n, noise, factor, rng):
    inner = rng.random(n) < 0.5
    angle = rng.random(n) * 2 * np.pi
    radius = np.where(inner, factor, 1.0)
    x = radius * np.cos(angle) + noise * rng.standard_normal(n)
    y = radius * np.sin(angle) + noise * rng.standard_normal(n)
    return np.stack([x, y], axis=1) * 2, inner.astype(int)


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
    p.add_argument("--class", dest="cls", type=int)
    p.add_argument("--min-accuracy", type=float)
    p.add_argument("--max-accuracy", type=float)
    args = p.parse_args()
    x = np.load(args.samples).astype(np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or not np.all(np.isfinite(x)):
        sys.exit(f"quality.py: expected finite [n, 2] samples, got {x.shape}")
    rng = np.random.default_rng(12345)
    # Enough fresh points that one class of eight still has as many as x.
    fresh, labels = fresh_data(args, 16 * len(x), rng)
    what = args.data
    if args.cls is not None:
        refs, ref_labels = fresh[:8000], labels[:8000]
        fresh = fresh[labels == args.cls]
        what += f" of class {args.cls}"
    sw = sliced_w2(x, fresh[: len(x)], rng)
    print(f"{args.label}: sliced-W2 to fresh {what} = {sw:.4f} (n = {len(x)})")
    if args.cls is not None:
        m = min(len(x), 4000)
        d2 = ((x[:m, None, :] - refs[None, :, :]) ** 2).sum(-1)
        accuracy = float(np.mean(ref_labels[np.argmin(d2, axis=1)] == args.cls))
        print(f"{args.label}: class-{args.cls} accuracy by the nearest fresh point = {accuracy:.4f}")
        if args.min_accuracy is not None and not accuracy >= args.min_accuracy:
            sys.exit(f"FAIL: accuracy {accuracy:.4f} < bar {args.min_accuracy}")
        if args.max_accuracy is not None and not accuracy <= args.max_accuracy:
            sys.exit(f"FAIL: accuracy {accuracy:.4f} > {args.max_accuracy}: the baseline should fail the bar")
    if args.max is not None and not sw <= args.max:
        sys.exit(f"FAIL: {sw:.4f} > bar {args.max}")
    if args.min is not None and not sw >= args.min:
        sys.exit(f"FAIL: {sw:.4f} < {args.min}: the baseline should fail the bar")


if __name__ == "__main__":
    main()
