#!/usr/bin/env python3
"""Writes a user's data and network the way a PyTorch user has them, for
tests/lit/e2e/user_files.test:

    make_user_files.py DIR

DIR/points.npy   8000 moons points (float64 [8000, 2], quality.py's moons)
DIR/points.csv   the same points with a header line "x,y"
DIR/labels.npy   their labels (int64 [8000]: 0 upper moon, 1 lower)
DIR/images.idx   40 random 4x4 images of bytes (IDX, uint8 [40, 4, 4])
DIR/image_labels.idx   their labels (IDX, uint8 [40], 0..4)
DIR/v.pt         a scripted MLP velocity v(x [n, 2], t [n, 1]) -> [n, 2]
DIR/m.pt         a scripted learned source m(y [n, 1]) -> [n, 2]: one point
                 per class (and one for the null class, y = -1)
DIR/x0.npy       64 source points (float32 [64, 2]) for the reference
"""
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality import moons  # noqa: E402


class Velocity(torch.nn.Module):
    """What a torchcfm user writes: an MLP on [x, t]."""

    def __init__(self, dim=2, width=64):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim + 1, width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, dim))

    def forward(self, x, t):
        return self.net(torch.cat([x, t], 1))


class Source(torch.nn.Module):
    """A point per class, learned: an embedding of labels given as floats."""

    def __init__(self, classes=2, dim=2):
        super().__init__()
        self.classes = classes
        self.table = torch.nn.Embedding(classes + 1, dim)

    def forward(self, y):
        k = y.reshape(-1).round().long()
        k = torch.where((k >= 0) & (k < self.classes), k, torch.full_like(k, self.classes))
        return self.table(k)


def write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08}
    with open(path, "wb") as f:
        f.write(bytes([0, 0, codes[array.dtype], array.ndim]))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.tobytes())


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    points, labels = moons(8000, 0.05, rng)
    np.save(os.path.join(out, "points.npy"), points)
    np.savetxt(os.path.join(out, "points.csv"), points, delimiter=",", header="x,y",
               comments="")
    np.save(os.path.join(out, "labels.npy"), labels.astype(np.int64))
    write_idx(os.path.join(out, "images.idx"), rng.integers(0, 256, (40, 4, 4), dtype=np.uint8))
    write_idx(os.path.join(out, "image_labels.idx"), rng.integers(0, 5, 40, dtype=np.uint8))
    torch.manual_seed(0)
    torch.jit.script(Velocity()).save(os.path.join(out, "v.pt"))
    torch.jit.script(Source()).save(os.path.join(out, "m.pt"))
    np.save(os.path.join(out, "x0.npy"), rng.standard_normal((64, 2)).astype(np.float32))


if __name__ == "__main__":
    main()
