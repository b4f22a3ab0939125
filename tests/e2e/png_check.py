#!/usr/bin/env python3
"""Decodes a PNG the runtime wrote with Pillow (an independent decoder, blind
to how the file is compressed) and checks its size, its mode (8-bit gray)
and its pixels against the samples it shows, redrawn here in numpy from the
runtime's documented rules (runtime/src/Writers.h):

    png_check.py FILE.png --scatter SAMPLES.npy   # [n, 2] points
    png_check.py FILE.png --grid SAMPLES.npy      # [n, 1, H, W] images

  scatter: 512 x 512 over [-4, 4]^2, y up; a pixel with c > 0 points is
    gray round(55 (1 - log1p(c) / log1p(max c))), an empty one 255.
  grid: the first 100 images, 10 per row, each zoomed max(1, 32 // H) times
    in a cell with a 1-pixel black border; pixel round((clamp(v) + 1) 127.5).
Pixels may differ by 1 gray level (rounding of the logarithm); where a
scatter pixel is empty must match exactly.
"""
import argparse
import sys

import numpy as np
from PIL import Image


def scatter(points, size=512, lo=-4.0, hi=4.0):
    p = points.astype(np.float64)
    scale = size / (hi - lo)
    col, row = (p[:, 0] - lo) * scale, (hi - p[:, 1]) * scale
    keep = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    counts = np.zeros((size, size), np.int64)
    np.add.at(counts, (row[keep].astype(np.int64), col[keep].astype(np.int64)), 1)
    gray = np.full((size, size), 255.0)
    if counts.max() > 0:
        hit = counts > 0
        gray[hit] = np.floor(55 * (1 - np.log1p(counts[hit]) / np.log1p(counts.max())) + 0.5)
    return gray


def grid(images, columns=10):
    images = images[:100, 0]
    n, h, w = images.shape
    zoom = max(1, 32 // h)
    rows = (n + columns - 1) // columns
    cell_h, cell_w = h * zoom + 1, w * zoom + 1
    gray = np.zeros((rows * cell_h + 1, columns * cell_w + 1))
    pixels = np.round((np.clip(images.astype(np.float32), -1, 1) + 1) * np.float32(127.5))
    for i in range(n):
        y0, x0 = (i // columns) * cell_h + 1, (i % columns) * cell_w + 1
        gray[y0:y0 + h * zoom, x0:x0 + w * zoom] = np.kron(pixels[i], np.ones((zoom, zoom)))
    return gray


def main():
    p = argparse.ArgumentParser()
    p.add_argument("png")
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--scatter")
    kind.add_argument("--grid")
    args = p.parse_args()
    with Image.open(args.png) as image:
        image.load()
        if image.format != "PNG" or image.mode != "L":
            sys.exit(f"FAIL: {args.png} is {image.format} mode {image.mode}, not 8-bit gray PNG")
        got = np.asarray(image, dtype=np.float64)
    expected = scatter(np.load(args.scatter)) if args.scatter else grid(np.load(args.grid))
    if got.shape != expected.shape:
        sys.exit(f"FAIL: {args.png} is {got.shape[1]} x {got.shape[0]}, expected "
                 f"{expected.shape[1]} x {expected.shape[0]}")
    worst = float(np.max(np.abs(got - expected)))
    marked = int(np.sum(expected < 255)) if args.scatter else int(np.sum(expected > 0))
    print(f"{args.png}: {got.shape[1]} x {got.shape[0]} gray, {marked} marked pixels, "
          f"largest pixel difference {worst:g}")
    if worst > 1 or (args.scatter and not np.array_equal(got == 255, expected == 255)):
        sys.exit(f"FAIL: {args.png} does not show the samples")
    if marked == 0:
        sys.exit(f"FAIL: {args.png} shows nothing")


if __name__ == "__main__":
    main()
