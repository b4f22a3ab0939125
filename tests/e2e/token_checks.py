#!/usr/bin/env python3
"""Checks an FSQ tokenizer's codes and a nested-dropout reconstruction curve.

    token_checks.py usage CODES.npy --levels 8 5 5 5 --min F [--below]
        CODES [n, K, d] (or [n, d]) are FSQ codes in [-1, 1]; each token's
        code must lie on the grid of its levels. Its index (sum over i of
        (code_i floor(L_i/2) + floor(L_i/2)) prod_{j<i} L_j, as
        std.quantizers' fsq_index) is computed independently here with
        numpy, and the share of the codebook's prod L codes that the tokens
        use is printed; exits non-zero unless it is >= F (with --below:
        unless it is < F, for a baseline that must fail).
    token_checks.py groups CODES.npy --groups G --min F [--below]
        CODES [n, ...] are lookup-free codes: every value -1 or 1, G groups
        of bits per sample. Each group's code index (sum_i 1[bit_i > 0] 2^i)
        is computed here with numpy; prints each group's share of its 2^g
        codes that the samples use and the distinct whole codes; exits
        non-zero unless the smallest group share is >= F (--below: < F).
    token_checks.py curve METRICS.json ... [--tolerance T]
        `reconstruct --metrics-json` files for k = 1, 2, ... tokens, in
        order: the error must not increase with k (by more than T) and
        every k must beat the data's mean.
    token_checks.py accuracy METRICS.json ... --min F [--tolerance T] [--below]
        `reconstruct --held-out --metrics-json` files for increasing k: the
        share of reconstructions the eval classifier labels as their
        input's class must not decrease with k (by more than T) and must be
        >= F with the most tokens (--below: the last must be < F, for a
        baseline that must fail).
"""
import argparse
import json
import sys

import numpy as np


def usage(args):
    codes = np.load(args.codes)
    levels = np.array(args.levels, dtype=np.int64)
    codes = codes.reshape(-1, len(levels))
    half = levels // 2
    steps = codes * half
    if np.abs(steps - np.round(steps)).max() > 1e-4 or np.abs(steps).max() > half.max() + 1e-4:
        sys.exit("codes are not on the FSQ grid of levels %s" % list(levels))
    basis = np.cumprod(np.concatenate([[1], levels[:-1]]))
    index = ((np.round(steps).astype(np.int64) + half) * basis).sum(-1)
    # The index inverts: each code is the one its index names.
    digits = (index[:, None] // basis) % levels
    if not np.array_equal(digits - half, np.round(steps).astype(np.int64)):
        sys.exit("index and code do not round-trip")
    used = len(np.unique(index)) / int(np.prod(levels))
    print("codebook usage = %.4f (%d of %d codes, %d tokens)" %
          (used, len(np.unique(index)), int(np.prod(levels)), len(index)))
    ok = used < args.min if args.below else used >= args.min
    if not ok:
        sys.exit("usage %.4f is %s %.4f" % (used, ">=" if args.below else "<", args.min))


def groups(args):
    codes = np.load(args.codes)
    bits = codes.reshape(len(codes), args.groups, -1)
    if not np.all(np.abs(np.abs(bits) - 1) < 1e-6):
        sys.exit("codes are not all -1 or 1")
    g = bits.shape[-1]
    index = ((bits > 0) * (2 ** np.arange(g))).sum(-1)  # [n, G]
    shares = [len(np.unique(index[:, k])) / 2 ** g for k in range(args.groups)]
    whole = len(np.unique(index @ (2 ** (g * np.arange(args.groups)))))
    print("group usage = %.4f (smallest of %s; %d distinct whole codes of %d samples)" %
          (min(shares), ", ".join("%.3f" % x for x in shares), whole, len(codes)))
    ok = min(shares) < args.min if args.below else min(shares) >= args.min
    if not ok:
        sys.exit("group usage %.4f is %s %.4f" % (min(shares), ">=" if args.below else "<",
                                                  args.min))


def curve(args):
    points = [json.load(open(f)) for f in args.files]
    errors = [p["reconstruction_mse"] for p in points]
    print("reconstruction mse by tokens kept: " +
          ", ".join("%d: %.4f" % (p["tokens"], p["reconstruction_mse"]) for p in points) +
          " (the data's mean: %.4f)" % points[0]["mean_mse"])
    for a, b in zip(points, points[1:]):
        if b["reconstruction_mse"] > a["reconstruction_mse"] + args.tolerance:
            sys.exit("the error increases from %d to %d tokens" % (a["tokens"], b["tokens"]))
    for p in points:
        if not p["reconstruction_mse"] < p["mean_mse"]:
            sys.exit("%d tokens do not beat the data's mean" % p["tokens"])


def accuracy(args):
    points = [json.load(open(f)) for f in args.files]
    print("labelled as the input's class, by tokens kept: " +
          ", ".join("%d: %.4f" % (p["tokens"], p["accuracy"]) for p in points))
    last = points[-1]["accuracy"]
    if args.below:
        if not last < args.min:
            sys.exit("the baseline reaches %.4f >= %.4f" % (last, args.min))
        return
    for a, b in zip(points, points[1:]):
        if b["accuracy"] < a["accuracy"] - args.tolerance:
            sys.exit("the accuracy decreases from %d to %d tokens" % (a["tokens"], b["tokens"]))
    if not last >= args.min:
        sys.exit("%d tokens reach %.4f < %.4f" % (points[-1]["tokens"], last, args.min))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="check", required=True)
u = sub.add_parser("usage")
u.add_argument("codes")
u.add_argument("--levels", type=int, nargs="+", required=True)
u.add_argument("--min", type=float, required=True)
u.add_argument("--below", action="store_true")
gr = sub.add_parser("groups")
gr.add_argument("codes")
gr.add_argument("--groups", type=int, required=True)
gr.add_argument("--min", type=float, required=True)
gr.add_argument("--below", action="store_true")
c = sub.add_parser("curve")
c.add_argument("files", nargs="+")
c.add_argument("--tolerance", type=float, default=0.0)
a = sub.add_parser("accuracy")
a.add_argument("files", nargs="+")
a.add_argument("--min", type=float, required=True)
a.add_argument("--tolerance", type=float, default=0.0)
a.add_argument("--below", action="store_true")
args = parser.parse_args()
{"usage": usage, "groups": groups, "curve": curve, "accuracy": accuracy}[args.check](args)
