#!/usr/bin/env python3
"""Inputs and checks for editing digits (`sample --edit`, SDEdit):

    digits_edit.py inputs OUT.npy --not-class K [-n 200]
        held-out digits (the runtime's split of scikit-learn's digits, as
        tests/e2e/digits_gaussian_bpd.py makes it) of any class but K, as
        float32 [n, 1, 8, 8] in [-1, 1]
    digits_edit.py closer INPUTS.npy EDITS.npy FRESH.npy
        the mean distance of each edit to its input against that of fresh
        samples (row i to input i); passes when the edits are the closer

Prints the figures; exits non-zero when the check fails.
"""
import argparse
import gzip
import os
import sys

import numpy as np
import torch

CANDIDATES = [
    os.path.join(os.environ.get("FLOWC_DATA_DIR", ""), "digits", "digits.csv.gz"),
    "/usr/share/datasets/digits/digits.csv.gz",
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
]


def held_out():
    path = next(p for p in CANDIDATES if p and os.path.exists(p))
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float64)
    x, y = rows[:, :64] / 8.0 - 1.0, rows[:, 64].astype(int)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).numpy()
    return x[order[1500:]], y[order[1500:]]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["inputs", "closer"])
    p.add_argument("files", nargs="+")
    p.add_argument("--not-class", type=int)
    p.add_argument("-n", type=int, default=200)
    args = p.parse_args()
    if args.mode == "inputs":
        x, y = held_out()
        x = x[y != args.not_class][: args.n]
        np.save(args.files[0], x.reshape(-1, 1, 8, 8).astype(np.float32))
        print(f"{len(x)} held-out digits, none of class {args.not_class}")
        return 0
    inputs, edits, fresh = (np.load(f).reshape(len(np.load(f)), -1).astype(np.float64)
                            for f in args.files)
    d_edit = float(np.linalg.norm(edits - inputs, axis=1).mean())
    d_fresh = float(np.linalg.norm(fresh[: len(inputs)] - inputs, axis=1).mean())
    ok = d_edit < d_fresh
    print(f"mean distance to the inputs: edits {d_edit:.3f}, fresh samples {d_fresh:.3f} "
          f"-> {'ok' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
