#!/usr/bin/env python3
"""Writes a frozen tokenizer for the 8x8 digits as two TorchScript modules.

    make_pca_tokenizer.py OUT_DIR [--dims K] [--digits FILE.csv.gz]
                          [--check-latents Z.npy]

A user's own encoder and decoder, made here in PyTorch without flowc: the
top K principal components of the digits (pixels scaled to [-1, 1] as the
runtime reads them), each latent standardised to unit variance. enc.pt
maps images [n, 64] to latents [n, K]; dec.pt maps latents back to images
[n, 64]. Prints the reconstruction error of all digits through the pair,
and writes the first 50 digits as OUT_DIR/first50.npy [50, 1, 8, 8]. With
--check-latents it writes nothing: Z.npy must hold enc.pt's latents of
those 50 digits (as a program computed them) within 1e-5.
"""
import argparse
import gzip
import os

import numpy as np
import torch

parser = argparse.ArgumentParser()
parser.add_argument("out_dir")
parser.add_argument("--dims", type=int, default=8)
parser.add_argument("--digits", default=None)
parser.add_argument("--check-latents", default=None)
args = parser.parse_args()

candidates = [args.digits] if args.digits else [
    os.path.join(os.environ.get("FLOWC_DATA_DIR", ""), "digits", "digits.csv.gz"),
    "/usr/share/datasets/digits/digits.csv.gz",
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz",
]
path = next(p for p in candidates if p and os.path.exists(p))
rows = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.float32)
x = torch.from_numpy(rows[:, :64] / 8.0 - 1.0)

mean = x.mean(0)
_, s, vt = torch.linalg.svd(x - mean, full_matrices=False)
components = vt[: args.dims]                        # [K, 64]
scale = s[: args.dims] / (len(x) - 1) ** 0.5         # each latent's std


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("components", components)
        self.register_buffer("scale", scale)

    def forward(self, images):
        return (images - self.mean) @ self.components.t() / self.scale


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("components", components)
        self.register_buffer("scale", scale)

    def forward(self, z):
        return (z * self.scale) @ self.components + self.mean


if args.check_latents:
    enc = torch.jit.load(os.path.join(args.out_dir, "enc.pt"))
    got = torch.from_numpy(np.load(args.check_latents)).reshape(50, -1)
    err = (got - enc(x[:50])).abs().max().item()
    print("latents vs enc.pt in PyTorch: max |difference| %.2e" % err)
    raise SystemExit(0 if err <= 1e-5 else 1)

enc, dec = torch.jit.script(Encoder()), torch.jit.script(Decoder())
np.save(os.path.join(args.out_dir, "first50.npy"), x[:50].numpy().reshape(50, 1, 8, 8))
enc.save(os.path.join(args.out_dir, "enc.pt"))
dec.save(os.path.join(args.out_dir, "dec.pt"))
z = enc(x)
print("latents: %d of std %.3f; reconstruction mse %.4f (the mean image's %.4f)" %
      (z.shape[1], z.std(0).mean(), (dec(z) - x).pow(2).mean(), (mean - x).pow(2).mean()))
