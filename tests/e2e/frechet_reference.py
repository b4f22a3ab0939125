#!/usr/bin/env python3
"""The Fréchet distance between Gaussians fitted to two sets of features, by
numpy and scipy alone (the reference that runtime-tests compares the
runtime's eigendecomposition form with):

    frechet_reference.py X.npy Y.npy    # prints the distance

|mu_x - mu_y|^2 + tr(S_x + S_y - 2 sqrtm(S_x S_y)), covariances with 1/(n-1)
and sqrtm from scipy.linalg (Schur method, as FID implementations use it).
"""
import sys

import numpy as np
from scipy import linalg

x, y = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
mu_x, mu_y = x.mean(0), y.mean(0)
s_x, s_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
root = linalg.sqrtm(s_x @ s_y)
fd = np.sum((mu_x - mu_y) ** 2) + np.trace(s_x + s_y - 2 * np.real(root))
print(f"{fd:.12e}")
