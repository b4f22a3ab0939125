#!/usr/bin/env python3
"""Checks an inversion (data -> noise, `sample --from-t 1 --to-t 0`) and
the regeneration from its noise (`sample --from Z`):

    inversion.py data OUT.npy [-n 1000]            fresh toy.moons points
    inversion.py check X1.npy Z.npy X1B.npy --max-abs E [--baseline] [--label T]

`check` prints the round trip's largest error max |X1B - X1| and how far
the inverted points Z and the data X1 are from the standard normal the
flow starts from (sliced-W2 against 20000 normal draws, numpy); it passes
when the round trip is within E and Z is at most half as far from the
normal as X1 is. With --baseline it exits non-zero unless the round trip
fails the bar (a baseline that must fail).
"""
import argparse
import sys

import numpy as np

from quality import moons


def sliced_w2(a, b, rng, projections=200):
    d = rng.standard_normal((projections, a.shape[1]))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    n = min(len(a), len(b))
    pa = np.sort((a[:n] @ d.T), axis=0)
    pb = np.sort((b[rng.permutation(len(b))[:n]] @ d.T), axis=0)
    return float(np.sqrt(((pa - pb) ** 2).mean()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["data", "check"])
    p.add_argument("files", nargs="+")
    p.add_argument("-n", type=int, default=1000)
    p.add_argument("--max-abs", type=float, default=1e-3)
    p.add_argument("--baseline", action="store_true")
    p.add_argument("--label", default="inversion")
    args = p.parse_args()
    rng = np.random.default_rng(7)
    if args.mode == "data":
        x, _ = moons(args.n, 0.05, rng)
        np.save(args.files[0], x.astype(np.float32))
        return
    x1, z, x1b = (np.load(f).astype(np.float64) for f in args.files)
    err = float(np.abs(x1b - x1).max())
    normal = rng.standard_normal((20000, x1.shape[1]))
    dz, dx = sliced_w2(z, normal, rng), sliced_w2(x1, normal, rng)
    ok = np.isfinite(err) and err <= args.max_abs and dz <= 0.5 * dx
    print(f"{args.label}: round trip max |x1' - x1| = {err:.3g} (bar {args.max_abs:g}); "
          f"sliced-W2 to N(0, I): inverted {dz:.4f}, data {dx:.4f} -> {'ok' if ok else 'FAIL'}")
    if args.baseline:
        sys.exit(0 if not ok else 1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
