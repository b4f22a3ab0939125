#!/usr/bin/env python3
"""Paired data for examples/restore_pairs.flow: clean points of eight
Gaussians (the toy set's: centres on a circle of radius 4/sqrt(2), standard
deviation 0.1/sqrt(2)) and noisy copies, clean + N(0, 0.5^2).

Writes DIR/clean.npy and DIR/noisy.npy (training pairs) and
DIR/heldout_clean.npy and DIR/heldout_noisy.npy (pairs drawn apart, for
`sample --cond`), float32 [N, 2].

usage: make_pairs.py DIR [--n 20000] [--heldout 1000] [--seed 0]
"""
import argparse
import os

import numpy as np


def pairs(n, rng):
    k = rng.integers(0, 8, n)
    centres = 4.0 * np.stack([np.cos(k * np.pi / 4), np.sin(k * np.pi / 4)], 1)
    clean = (centres + 0.1 * rng.standard_normal((n, 2))) / np.sqrt(2)
    noisy = clean + 0.5 * rng.standard_normal((n, 2))
    return clean.astype(np.float32), noisy.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--heldout", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.dir, exist_ok=True)
    for prefix, n in (("", a.n), ("heldout_", a.heldout)):
        clean, noisy = pairs(n, rng)
        np.save(os.path.join(a.dir, prefix + "clean.npy"), clean)
        np.save(os.path.join(a.dir, prefix + "noisy.npy"), noisy)


if __name__ == "__main__":
    main()
