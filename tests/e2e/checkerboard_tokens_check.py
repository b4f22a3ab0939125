"""Checks samples of toy.checkerboard_tokens against the checkerboard.

  checkerboard_tokens_check.py SAMPLES.npy [--min F] [--below]
      SAMPLES.npy holds token ids [n, 2], each coordinate's level 0..31 over
      [-4, 4]. A point lies on a dark cell when its cell column and row
      (level // 8) add up to an even number (the generator's construction:
      uniform over the 8 dark cells of a 4x4 board). Passes when at least F
      (default 0.95) of the samples lie on dark cells, and when every id is
      a level; prints the share and how evenly the 8 dark cells are filled.
      Uniform tokens lie on dark cells half of the time.
      --below: the bar must fail (a baseline).
"""
import sys

import numpy as np


def main(argv):
    path, least, below = argv[0], 0.95, "--below" in argv
    if "--min" in argv:
        least = float(argv[argv.index("--min") + 1])
    ids = np.load(path)
    assert ids.ndim == 2 and ids.shape[1] == 2, ids.shape
    assert np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() <= 31, \
        (ids.min(), ids.max())
    cells = ids.astype(np.int64) // 8
    dark = (cells[:, 0] + cells[:, 1]) % 2 == 0
    share = dark.mean()
    counts = np.bincount(cells[dark, 0] * 4 + cells[dark, 1], minlength=16)
    filled = counts[counts > 0]
    spread = filled.min() / filled.max() if len(filled) else 0.0
    print(f"{len(ids)} samples: {share:.4f} on dark cells (bar {least}); "
          f"{len(filled)} of 8 dark cells hit, least/most filled {spread:.2f}")
    ok = share >= least and len(filled) == 8
    if ok == below:
        print("FAIL: " + ("the baseline passes the bar" if below else "below the bar"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
