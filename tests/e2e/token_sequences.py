#!/usr/bin/env python3
"""Token sequences that count, for examples/counting_tokens.flow.

    token_sequences.py make DIR
        writes DIR/sequences.npy: 4000 sequences of 6 token ids 0..7
        (float32 [4000, 6]), each x_i = (s + i d) mod 8 for a start s in
        0..7 and a step d in {1, 2, 3} drawn uniformly: 24 sequences of the
        8^6 possible.
    token_sequences.py check SAMPLES.npy --min F [--modes M] [--below]
        SAMPLES [n, 6] are sampled token ids; prints the share that count
        (x_{i+1} - x_i the same step of 1, 2 or 3 mod 8 throughout) and how
        many of the 24 sequences appear. Exits non-zero unless the share is
        >= F and at least M sequences appear (--below: unless the share is
        < F, for a baseline that must fail).
"""
import argparse
import os
import sys

import numpy as np

LENGTH, VOCAB, STEPS = 6, 8, (1, 2, 3)


def counts(row):
    d = (row[1] - row[0]) % VOCAB
    return d in STEPS and all((row[i + 1] - row[i]) % VOCAB == d for i in range(LENGTH - 1))


def make(args):
    rng = np.random.default_rng(0)
    n = 4000
    start = rng.integers(0, VOCAB, n)
    step = rng.choice(STEPS, n)
    seqs = (start[:, None] + step[:, None] * np.arange(LENGTH)[None, :]) % VOCAB
    np.save(os.path.join(args.dir, "sequences.npy"), seqs.astype(np.float32))


def check(args):
    samples = np.load(args.samples).reshape(-1, LENGTH)
    if not np.all(samples == np.round(samples)) or samples.min() < 0 or samples.max() >= VOCAB:
        sys.exit("samples are not token ids 0..%d" % (VOCAB - 1))
    ids = samples.astype(np.int64)
    valid = [tuple(r) for r in ids if counts(r)]
    share = len(valid) / len(ids)
    modes = len(set(valid))
    print("sequences that count: %.4f of %d; %d of the %d sequences appear"
          % (share, len(ids), modes, VOCAB * len(STEPS)))
    if args.below:
        if not share < args.min:
            sys.exit("the baseline reaches %.4f >= %.4f" % (share, args.min))
        return
    if share < args.min:
        sys.exit("%.4f < %.4f" % (share, args.min))
    if modes < args.modes:
        sys.exit("only %d sequences appear, fewer than %d" % (modes, args.modes))


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
m = sub.add_parser("make")
m.add_argument("dir")
c = sub.add_parser("check")
c.add_argument("samples")
c.add_argument("--min", type=float, required=True)
c.add_argument("--modes", type=int, default=0)
c.add_argument("--below", action="store_true")
args = parser.parse_args()
{"make": make, "check": check}[args.command](args)
