#!/usr/bin/env python3
"""Euler integration of a TorchScript velocity in PyTorch, the reference
for a compiled program that samples with the same module:

    torchscript_reference.py v.pt x0.npy STEPS samples.npy --max-abs TOL

Integrates dx/dt = v(x, t) from t = 0 to 1 with STEPS Euler steps from
x0 (float64 in PyTorch), and asserts every value of samples.npy is within
TOL of the result.
"""
import argparse
import sys

import numpy as np
import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("module")
    p.add_argument("x0")
    p.add_argument("steps", type=int)
    p.add_argument("samples")
    p.add_argument("--max-abs", type=float, required=True)
    args = p.parse_args()
    v = torch.jit.load(args.module).double()
    x = torch.from_numpy(np.load(args.x0)).double()
    h = 1.0 / args.steps
    with torch.no_grad():
        for i in range(args.steps):
            x = x + h * v(x, torch.full((x.shape[0], 1), i * h, dtype=torch.float64))
    got = np.load(args.samples)
    error = float(np.abs(got - x.numpy()).max())
    print(f"torchscript sampler vs PyTorch Euler: max |diff| = {error:.3g} (bar {args.max_abs})")
    if not error <= args.max_abs:
        sys.exit(1)


if __name__ == "__main__":
    main()
