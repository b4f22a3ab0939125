"""Checks of a tokenizer that standardizes its tokens (standardize: channels).

  make DIR                 writes DIR/pts.npy: 4000 moons points scaled per
                           coordinate to centres (100, -3), spreads (40, 0.05)
  tokens PTS Z             Z = encode(PTS) of `2 * x + 1`, standardized per
                           channel with the statistics of PTS (numpy, in
                           double): equal within 1e-4, each channel of mean
                           0 and deviation 1 within 1e-3
  decoded PTS BACK         BACK = PTS within 1e-4 of each coordinate's spread
  moments Z TOL            tokens Z of other points from the same data:
                           each channel of mean 0 and deviation 1 within TOL
  samples PTS S [--below]  samples S in the data's units: in units of each
                           coordinate's spread, the median distance to the
                           nearest data point is < 0.1 and each coordinate's
                           mean and deviation are within 0.1 of the data's
                           (--below: the bar must fail)
"""
import sys

import numpy as np


def make(directory):
    rng = np.random.default_rng(0)
    n = 4000
    a = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(a), 1 - np.cos(a))
    y = np.where(upper, np.sin(a), 0.5 - np.sin(a))
    p = np.stack([x, y], 1) + rng.normal(0, 0.05, (n, 2))
    p = (p - p.mean(0)) / p.std(0)
    p = p * np.array([40.0, 0.05]) + np.array([100.0, -3.0])
    np.save(f"{directory}/pts.npy", p.astype(np.float32))


def tokens(pts, z):
    x = np.load(pts).astype(np.float64)
    z = np.load(z).astype(np.float64).reshape(len(x), -1)
    raw = 2 * x + 1
    expect = (raw - raw.mean(0)) / raw.std(0)
    err = np.abs(z - expect).max()
    mean, std = z.mean(0), z.std(0)
    print(f"tokens: max |z - closed form| {err:.2e}; mean {mean}, std {std}")
    assert err < 1e-4, err
    assert np.abs(mean).max() < 1e-3 and np.abs(std - 1).max() < 1e-3, (mean, std)


def moments(z, tol):
    z = np.load(z).astype(np.float64)
    z = z.reshape(len(z), z.shape[1], -1).transpose(1, 0, 2).reshape(z.shape[1], -1)
    mean, std = z.mean(1), z.std(1)
    print(f"moments: mean {mean}, std {std} (tolerance {tol})")
    assert np.abs(mean).max() < tol and np.abs(std - 1).max() < tol, (mean, std)


def decoded(pts, back):
    x = np.load(pts).astype(np.float64)
    b = np.load(back).astype(np.float64).reshape(x.shape)
    err = (np.abs(b - x) / x.std(0)).max()
    print(f"decoded: max |decode(encode(x)) - x| / spread {err:.2e}")
    assert err < 1e-4, err


def samples(pts, s, below):
    x = np.load(pts).astype(np.float64)
    y = np.load(s).astype(np.float64).reshape(-1, x.shape[1])
    centre, spread = x.mean(0), x.std(0)
    xs, ys = (x - centre) / spread, (y - centre) / spread
    near = np.sqrt(((ys[:, None, :] - xs[None, :, :]) ** 2).sum(-1)).min(1)
    median = float(np.median(near))
    moments = max(np.abs(ys.mean(0)).max(), np.abs(ys.std(0) - 1).max())
    print(f"samples: median distance to the data {median:.4f} (bar 0.1), "
          f"moments off by {moments:.4f} (bar 0.1) in units of the spread")
    passed = median < 0.1 and moments < 0.1
    assert passed != below, "the bar should fail" if below else "the bar is missed"


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(args[0])
    elif cmd == "tokens":
        tokens(args[0], args[1])
    elif cmd == "moments":
        moments(args[0], float(args[1]))
    elif cmd == "decoded":
        decoded(args[0], args[1])
    elif cmd == "samples":
        samples(args[0], args[1], "--below" in args)
    else:
        sys.exit(f"unknown command {cmd}")
