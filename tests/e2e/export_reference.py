#!/usr/bin/env python3
"""Integrates an exported network (`PROG export -o v.pt`) in PyTorch with
torchdiffeq, the reference for the program's own sampler from the same
start points (`PROG sample --from x0.npy -o samples.npy`):

    export_reference.py v.pt x0.npy samples.npy --method rk4 --steps 8
        [--label K [--cfg W]] (--max-abs TOL | --min-abs TOL)

Loads v.pt with torch.jit.load alone (no flowc), solves dx/dt = v(x, t)
(x flat rows, as the network takes them)
from t = 0 to 1 with torchdiffeq's fixed-grid METHOD on STEPS equal steps
in float32, and prints max |samples - result|. With --label K the field is
v(x, t, K), and with --cfg W classifier-free guidance
v_u + W (v_c - v_u), v_u = v(x, t, -1). --max-abs asserts the difference
is at most TOL; --min-abs asserts it is at least TOL (a baseline that must
fail the bar).
"""
import argparse
import sys

import numpy as np
import torch
import torchdiffeq


def main():
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("x0")
    p.add_argument("samples")
    p.add_argument("--method", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--label", type=float)
    p.add_argument("--cfg", type=float)
    bar = p.add_mutually_exclusive_group(required=True)
    bar.add_argument("--max-abs", type=float)
    bar.add_argument("--min-abs", type=float)
    args = p.parse_args()

    v = torch.jit.load(args.module)
    # The network takes flat rows (an image's C*H*W values).
    x0 = torch.from_numpy(np.load(args.x0)).float()
    x0 = x0.reshape(x0.shape[0], -1)

    def field(t, x):
        if args.label is None:
            return v(x, t)
        v_c = v(x, t, torch.tensor(args.label))
        if args.cfg is None:
            return v_c
        v_u = v(x, t, torch.tensor(-1.0))
        return v_u + args.cfg * (v_c - v_u)

    grid = torch.linspace(0.0, 1.0, args.steps + 1)
    with torch.no_grad():
        x1 = torchdiffeq.odeint(field, x0, grid, method=args.method)[-1]
    got = np.load(args.samples).reshape(x0.shape[0], -1)
    diff = float(np.abs(got - x1.numpy()).max())
    if args.max_abs is not None:
        ok = diff <= args.max_abs
        print(f"{'ok' if ok else 'FAIL'}: program vs torchdiffeq {args.method}, "
              f"{args.steps} steps: max |diff| = {diff:.3g} (bar <= {args.max_abs})")
    else:
        ok = diff >= args.min_abs
        print(f"{'ok' if ok else 'FAIL'}: baseline {args.module}, {args.method}, {args.steps} "
              f"steps: max |diff| = {diff:.3g} (must be >= {args.min_abs})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
