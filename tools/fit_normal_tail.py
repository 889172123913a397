#!/usr/bin/env python3
"""Fits the polynomial of the CPU backend's GELU (UnaryMath.normalTail).

Phi(-a) = exp(-a^2/2) * t * Q(t) with t = 1/(1 + a/4): t maps a in [0, inf) onto (0, 1] and Q
is smooth there (it tends to 1/(4 sqrt(2 pi)) as a grows), so one polynomial covers the whole
line. Q is fitted in relative error by iteratively reweighted least squares (Lawson's
weights) against mpmath; prints the coefficients and the fit's relative error in double.
Run with the pyenv python3 (numpy, mpmath); the Java test measures the float error.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 30
Q_SCALE = 0.25
DEGREE = 9


def target(t):
    a = mp.mpf((1 / t - 1) / Q_SCALE)
    return float(0.5 * mp.erfc(a / mp.sqrt(2)) * mp.exp(a * a / 2) / t)


def fit(n=1500):
    k = np.arange(n)
    t = 0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / n)
    f = np.array([target(ti) for ti in t])
    a = np.vander(t, DEGREE + 1, increasing=True)
    w = np.ones(n)
    for _ in range(30):
        c, *_ = np.linalg.lstsq(a * (w / f)[:, None], w, rcond=None)
        r = (a @ c - f) / f
        w = w * np.sqrt(np.abs(r) + 1e-30)
        w /= w.max()
    return c, np.abs(r).max()


if __name__ == "__main__":
    c, err = fit()
    print("max relative error in double: %.3g" % err)
    for i, v in enumerate(c):
        print("N%d = %sf" % (i, repr(float(np.float32(v)))))
