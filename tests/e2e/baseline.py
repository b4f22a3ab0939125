#!/usr/bin/env python3
"""Writes a sample that a quality bar must reject, as float32 [n, 2] .npy:
what a model that learnt only the coarse shape of the data would produce.

    baseline.py KIND OUT.npy [-n 20000] [--scale X] [--noise X] [--blur X]

  ring:   toy.eight_gaussians' circle (radius scale / sqrt 2) at uniform
          angles, with the modes' radial noise (noise / sqrt 2): the data's
          support smeared around, no modes.
  board:  toy.checkerboard (quality.py's numpy copy) plus Gaussian noise of
          std `blur` in the data's units (default 0.5 at scale 4: a third of
          the points leave the dark cells, yet sliced-W2 is only 0.11).
  source: the standard normal the flows start from.
"""
import argparse

import numpy as np

from quality import checkerboard


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["ring", "board", "source"])
    p.add_argument("out")
    p.add_argument("-n", type=int, default=20000)
    p.add_argument("--scale", type=float, default=4.0)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--blur", type=float, default=0.5)
    args = p.parse_args()
    rng = np.random.default_rng(7)
    if args.kind == "ring":
        angle = rng.random(args.n) * 2 * np.pi
        radius = (args.scale + args.noise * rng.standard_normal(args.n)) / np.sqrt(2)
        x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    elif args.kind == "board":
        x = checkerboard(args.n, args.scale, rng)[0]
        x = x + args.blur * rng.standard_normal(x.shape)
    else:
        x = rng.standard_normal((args.n, 2))
    np.save(args.out, x.astype(np.float32))


if __name__ == "__main__":
    main()
