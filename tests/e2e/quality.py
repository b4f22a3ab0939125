#!/usr/bin/env python3
"""Sample quality of a 2-D flow against fresh data, computed independently of
the runtime (numpy only): the sliced Wasserstein-2 distance over 256 random
directions, sqrt(mean_theta W2(x.theta, y.theta)^2), each 1-D W2^2 being the
mean squared difference of the sorted projections; and, for the two data
sets with a known structure, figures that see it (a spread-out blur of the
right shape can pass a sliced-W2 bar, these cannot):
  --modes (toy.eight_gaussians): a sample belongs to mode k when it lies
    within 4 sigma of center k (sigma the data's std per axis; 99.97% of the
    data do). Reports the fraction of samples on a mode, each mode's mass
    (its share of all samples; the data's is 1/8), the modes found (mass at
    least half of 1/8) and each mode's spread (the RMS per axis of its
    samples about their mean, over sigma; the data's is 1.00).
  --cells (toy.checkerboard): the fraction of samples on the 8 dark cells
    (the data's is 1), and each dark cell's share of the samples on dark
    cells (the data's is 1/8).
Their bars are flags (defaults below); `--baseline` turns the check around:
it passes only when at least one bar fails, for a sample that must fail.

    quality.py SAMPLES.npy [--data toy.moons] [--noise X] [--scale X]
               [--factor X] [--max X | --min X]
               [--class K [--min-accuracy A | --max-accuracy A]]
               [--modes [--min-on-modes F] [--mass-tolerance F]
                        [--spread LO HI]]
               [--cells [--min-on-cells F] [--cell-tolerance F]]
               [--baseline]

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


def mode_figures(x, scale, noise):
    """Mode figures of samples x against toy.eight_gaussians(scale, noise)."""
    angles = np.arange(8) * np.pi / 4
    centers = scale * np.stack([np.cos(angles), np.sin(angles)], axis=1) / np.sqrt(2)
    sigma = noise / np.sqrt(2)
    d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    nearest = np.argmin(d2, axis=1)
    on_mode = d2[np.arange(len(x)), nearest] <= (4 * sigma) ** 2
    mass, spread = np.zeros(8), np.full(8, np.nan)
    for k in range(8):
        mine = x[on_mode & (nearest == k)]
        mass[k] = len(mine) / len(x)
        if len(mine) >= 2:
            spread[k] = np.sqrt(np.mean((mine - mine.mean(0)) ** 2)) / sigma
    found = int(np.sum(mass >= 0.5 / 8))
    return {"on": float(on_mode.mean()), "mass": mass, "found": found, "spread": spread}


def cell_figures(x, scale):
    """Dark-cell figures of samples x against toy.checkerboard(scale)."""
    u = x / (scale / 2)  # back to FFJORD's [-2, 2]^2
    col, row = np.floor(u[:, 0]), np.floor(u[:, 1])
    inside = (np.abs(u) < 2).all(1)
    # The data's cells: y in [0, 1) + floor(x) mod 2 or that minus 2, i.e.
    # floor(x) + floor(y) even.
    dark = inside & (np.mod(col + row, 2) == 0)
    cell = ((col + 2) * 4 + (row + 2))[dark].astype(int)  # 4 column + row
    dark_cells = [c * 4 + r for c in range(4) for r in range(4) if (c + r) % 2 == 0]
    counts = np.bincount(cell, minlength=16)[dark_cells]
    share = counts / max(1, counts.sum())
    return {"on": float(dark.mean()), "share": share}


def structure_bars(args, x):
    """Prints the structure figures; returns the list of bars they fail."""
    failed = []
    if args.modes:
        m = mode_figures(x, args.scale or 4.0, 0.1 if args.noise is None else args.noise)
        mass_error = float(np.max(np.abs(m["mass"] - 1 / 8)))
        print(f"{args.label}: on a mode = {m['on']:.4f}, modes found = {m['found']} of 8")
        print(f"{args.label}: mode mass = " + " ".join(f"{v:.3f}" for v in m["mass"])
              + f" (max |mass - 1/8| = {mass_error:.4f})")
        print(f"{args.label}: mode spread / data's = " + " ".join(f"{v:.2f}" for v in m["spread"]))
        lo, hi = args.spread
        if m["found"] < 8:
            failed.append(f"modes found {m['found']} < 8")
        if not m["on"] >= args.min_on_modes:
            failed.append(f"on a mode {m['on']:.4f} < {args.min_on_modes}")
        if not mass_error <= args.mass_tolerance:
            failed.append(f"max |mass - 1/8| {mass_error:.4f} > {args.mass_tolerance}")
        if not np.all((m["spread"] >= lo) & (m["spread"] <= hi)):
            failed.append(f"a mode's spread is outside [{lo}, {hi}]")
    if args.cells:
        c = cell_figures(x, args.scale or 4.0)
        share_error = float(np.max(np.abs(c["share"] - 1 / 8)))
        print(f"{args.label}: on a dark cell = {c['on']:.4f}")
        print(f"{args.label}: dark-cell share = " + " ".join(f"{v:.3f}" for v in c["share"])
              + f" (max |share - 1/8| = {share_error:.4f})")
        if not c["on"] >= args.min_on_cells:
            failed.append(f"on a dark cell {c['on']:.4f} < {args.min_on_cells}")
        if not share_error <= args.cell_tolerance:
            failed.append(f"max |share - 1/8| {share_error:.4f} > {args.cell_tolerance}")
    return failed


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
    p.add_argument("--modes", action="store_true")
    p.add_argument("--min-on-modes", type=float, default=0.85)
    p.add_argument("--mass-tolerance", type=float, default=0.03)
    p.add_argument("--spread", type=float, nargs=2, default=[0.75, 1.75])
    p.add_argument("--cells", action="store_true")
    p.add_argument("--min-on-cells", type=float, default=0.75)
    p.add_argument("--cell-tolerance", type=float, default=0.025)
    p.add_argument("--baseline", action="store_true")
    args = p.parse_args()
    if ((args.modes and args.data != "toy.eight_gaussians")
            or (args.cells and args.data != "toy.checkerboard")):
        sys.exit("quality.py: --modes is for toy.eight_gaussians, --cells for toy.checkerboard")
    if args.baseline and not (args.modes or args.cells):
        sys.exit("quality.py: --baseline goes with --modes or --cells")
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
    failed = structure_bars(args, x)
    if args.baseline:
        if not failed:
            sys.exit("FAIL: the baseline passes every bar: the bars do not see the structure")
        print(f"{args.label}: fails as it must: " + "; ".join(failed))
    elif failed:
        sys.exit("FAIL: " + "; ".join(failed))


if __name__ == "__main__":
    main()
