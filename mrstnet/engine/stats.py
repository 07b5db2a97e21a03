"""Small-sample statistics for comparing runs over seeds (the ablation's tables).

Student's t distribution (from the regularized incomplete beta function, so that no SciPy
is needed), a mean with its t confidence interval, paired differences with a paired t-test
and an exact sign test, and a least-squares slope (is the end of a curve flat?).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), x in [0, 1]."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc: x must be in [0, 1], got {x}")
    if x in (0.0, 1.0):
        return x
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q (bisection: 200 halvings of a bracket that holds it)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"t_quantile: q must be in (0, 1), got {q}")
    if q < 0.5:
        return -t_quantile(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_cdf(mid, df) < q else (lo, mid)
    return 0.5 * (lo + hi)


def mean_ci(values: Sequence[float], level: float = 0.95) -> dict:
    """Mean, sample SD and the t confidence interval of the mean (`half` its half-width;
    None with fewer than two values)."""
    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        raise ValueError("mean_ci: no values")
    mean = sum(xs) / n
    if n < 2:
        return {"n": 1, "mean": mean, "sd": None, "half": None, "low": None, "high": None}
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "half": half, "low": mean - half, "high": mean + half}


def sign_test(diffs: Sequence[float]) -> dict:
    """Exact two-sided sign test of the median difference being 0 (ties dropped)."""
    wins = sum(1 for d in diffs if d > 0)
    losses = sum(1 for d in diffs if d < 0)
    n = wins + losses
    k = min(wins, losses)
    p = 1.0 if n == 0 else min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n)
    return {"wins": wins, "losses": losses, "ties": len(diffs) - n, "p": p}


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """a - b paired by position (the same seed): mean difference with its t interval, the
    paired t-test's two-sided p, and the sign test."""
    if len(a) != len(b):
        raise ValueError(f"paired: {len(a)} values against {len(b)}")
    diffs = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    out = mean_ci(diffs, level)
    out["sign"] = sign_test(diffs)
    out["t"] = out["p_t"] = None
    if out["n"] >= 2:
        if out["sd"] == 0:
            out["t"] = 0.0 if out["mean"] == 0 else math.copysign(math.inf, out["mean"])
            out["p_t"] = 1.0 if out["mean"] == 0 else 0.0
        else:
            t = out["mean"] / (out["sd"] / math.sqrt(out["n"]))
            out["t"] = t
            out["p_t"] = 2.0 * (1.0 - t_cdf(abs(t), out["n"] - 1))
    return out


def slope(x: Sequence[float], y: Sequence[float]) -> float | None:
    """The least-squares slope of y on x (None with fewer than two distinct x)."""
    n = len(x)
    if n < 2 or len(set(x)) < 2:
        return None
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    return sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True)) / sxx
