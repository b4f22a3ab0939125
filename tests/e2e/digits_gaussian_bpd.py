"""The bits per dimension of held-out digits under a diagonal Gaussian.

  digits_gaussian_bpd.py [--below EVAL.txt]
      Fits one Gaussian per pixel (mean and variance) to images.digits'
      training split and prints the exact bits per dimension of its held-out
      split, each image uniformly dequantized over its pixel levels (bins of
      1/8 in [-1, 1], as `eval` does): -(log p(x) + 64 log(1/8)) / (64 log 2).
      The split is the runtime's: the first 1500 of torch.randperm(1797) with
      a generator seeded 0, the other 297 held out. With --below EVAL.txt,
      also reads `bits/dim of ...: B` from an eval's output and passes only
      when B is below the Gaussian's.
"""
import gzip
import math
import os
import re
import sys

import numpy as np
import torch

CANDIDATES = [
    os.path.join(os.environ.get("FLOWC_DATA_DIR", ""), "digits", "digits.csv.gz"),
    "/usr/share/datasets/digits/digits.csv.gz",
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
]


def main(argv):
    path = next(p for p in CANDIDATES if p and os.path.exists(p))
    rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float64)
    x = rows[:, :64] / 8.0 - 1.0
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).numpy()
    train, held = x[order[:1500]], x[order[1500:]]
    assert len(held) == 297
    # The Gaussian of the dequantized training images (bins 1/8 wide).
    rng = np.random.default_rng(0)
    noisy = train + (rng.random(train.shape) - 0.5) / 8
    mean, var = noisy.mean(0), noisy.var(0)
    bits = []
    for draw in range(16):  # average over dequantization draws
        y = held + (rng.random(held.shape) - 0.5) / 8
        logp = -0.5 * (((y - mean) ** 2) / var + np.log(2 * math.pi * var)).sum(1)
        bits.append((-(logp + 64 * math.log(1 / 8)) / (64 * math.log(2))).mean())
    gaussian = float(np.mean(bits))
    print(f"diagonal Gaussian: {gaussian:.4f} bits/dim on the 297 held-out digits")
    if "--below" in argv:
        text = open(argv[argv.index("--below") + 1]).read()
        flow = float(re.search(r"bits/dim of .*?: ([0-9.]+)", text).group(1))
        print(f"the flow's: {flow:.4f}")
        if not flow < gaussian:
            print("FAIL: the flow's bits/dim are not below the diagonal Gaussian's")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
