"""The BG/NBD purchase model and the Gamma-Gamma spend model, fitted by maximum likelihood.

The probabilistic ("buy 'til you die") baseline of the CLV task:

* :class:`BetaGeoModel` (Fader, Hardie & Lee 2005, "Counting your customers the
  easy way"): while alive, a customer buys at a Poisson rate
  ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out with probability
  ``p ~ Beta(a, b)``. From a customer's repeat purchases ``x``, the time of the
  last one ``t_x`` and their age ``T`` (both measured from the first purchase)
  it gives the expected purchases in the next ``t`` and the probability that
  the customer is still alive.
* :class:`GammaGammaModel` (Fader, Hardie & Lee 2005, "RFM and CLV"): the value
  of each purchase is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)`` across
  customers; given ``x`` repeat purchases of mean value ``m`` it gives the
  expected value of a future purchase.
* :func:`expected_revenue` multiplies the two.

Both fit by L-BFGS on log-parameters with analytic gradients (scipy), on
internally rescaled time and money so the optimiser sees numbers near 1; a
million customers fit in seconds. The fitted parameters are four (three)
floats, stored as JSON by :meth:`to_dict`. :func:`sample_bgnbd` and
:func:`sample_gamma_gamma` simulate customers from known parameters (tests
recover them).

We implement these models here rather than depend on ``lifetimes`` (unmaintained
since 2020, breaks on current numpy/pandas), its beta fork ``btyd`` (2022) or
``pymc-marketing`` (pulls in PyMC and PyTensor for what is a four-parameter
maximum-likelihood fit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

logger = logging.getLogger(__name__)

__all__ = ["BetaGeoModel", "GammaGammaModel", "expected_revenue", "sample_bgnbd", "sample_gamma_gamma"]

_LOG_BOUNDS = (np.log(1e-6), np.log(1e6))


def _as_float(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    return arr


def _check_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, t_age = _as_float(frequency, "frequency"), _as_float(recency, "recency"), _as_float(T, "T")
    if not (len(x) == len(tx) == len(t_age)):
        raise ValueError(f"frequency, recency and T must have the same length. Got {len(x)}, {len(tx)} and {len(t_age)}.")
    bad = ~(np.isfinite(x) & np.isfinite(tx) & np.isfinite(t_age))
    if bad.any():
        raise ValueError(f"frequency, recency and T must be finite numbers; {int(bad.sum())} rows are missing or infinite.")
    if (x < 0).any() or (np.floor(x) != x).any():
        raise ValueError("frequency must count repeat purchases: whole numbers >= 0.")
    if (tx < 0).any() or (tx > t_age + 1e-9).any():
        raise ValueError("recency (time of the last repeat purchase) must lie between 0 and T.")
    if ((x > 0) & (tx <= 0)).any():
        raise ValueError("a customer with repeat purchases (frequency > 0) must have recency > 0.")
    return x, tx, t_age


class _FittedByLikelihood:
    """What both models share: optimiser settings, the fitted parameters and their JSON form."""

    params_: dict[str, float]
    log_likelihood_: float
    n_customers_: int
    converged_: bool

    def __init__(self, *, max_iter: int = 500, tol: float = 1e-10, random_state: int | None = 0):
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _params(self) -> dict[str, float]:
        if not hasattr(self, "params_"):
            raise RuntimeError(f"This {type(self).__name__} is not fitted yet. Call fit(...) or from_dict(...) first.")
        return self.params_

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": dict(self._params()),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        model = cls()
        model.params_ = {k: float(v) for k, v in data["params"].items()}
        model.log_likelihood_ = float(data.get("log_likelihood", np.nan))
        model.n_customers_ = int(data.get("n_customers", 0))
        model.converged_ = bool(data.get("converged", True))
        return model


class BetaGeoModel(_FittedByLikelihood):
    """BG/NBD model of repeat purchases and drop-out.

    Parameters
    ----------
    max_iter : iterations of the L-BFGS optimiser.
    tol : its convergence tolerance on the scaled log-likelihood.
    random_state : accepted for API symmetry; the fit is deterministic (fixed
        starting point), so the same data always gives the same parameters.

    Attributes
    ----------
    params_ : dict with ``r``, ``alpha`` (in the time unit of the data), ``a`` and ``b``.
    log_likelihood_ : total log-likelihood at the optimum.
    n_customers_ : customers the model was fitted on.
    converged_ : whether the optimiser reported success.
    """

    # --------------------------------------------------------------- fitting
    @staticmethod
    def _loglik_terms(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, want_grad: bool):
        r, alpha, a, b = np.exp(log_params)
        rx = r + x
        rep = x > 0
        a1 = gammaln(rx) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        log_at = np.log(alpha + T)
        a3 = -rx * log_at
        log_atx = np.log(alpha + tx)
        bx1 = np.where(rep, b + x - 1.0, 1.0)
        a4 = np.where(rep, np.log(a) - np.log(bx1) - rx * log_atx, -np.inf)
        mix = np.logaddexp(a3, a4)
        ll = a1 + a2 + mix
        if not want_grad:
            return ll, None
        w3 = np.exp(a3 - mix)
        w4 = np.where(rep, np.exp(a4 - mix), 0.0)
        d_r = digamma(rx) - digamma(r) + np.log(alpha) - w3 * log_at - w4 * log_atx
        d_alpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + tx)
        d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
        d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w4 / bx1
        grad = np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])  # d/d log(param)
        return ll, grad

    def fit(self, frequency: Any, recency: Any, T: Any, *, weights: Any = None) -> BetaGeoModel:
        """Fit by maximum likelihood.

        ``frequency``: repeat purchases (purchases after the first); ``recency``:
        time from the first to the last purchase; ``T``: time from the first
        purchase to the end of observation. Any time unit (days here), the same
        for all three. ``weights`` count identical customers.
        """
        x, tx, t_age = _check_rft(frequency, recency, T)
        if len(x) == 0:
            raise ValueError("BetaGeoModel.fit needs at least one customer. Got none.")
        w = np.ones_like(x) if weights is None else _as_float(weights, "weights")
        scale = float(np.median(t_age[t_age > 0])) if (t_age > 0).any() else 1.0
        xs, txs, ts = x, tx / scale, t_age / scale
        total = float(w.sum())

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad = self._loglik_terms(theta, xs, txs, ts, True)
            value = -float(np.dot(w, ll)) / total
            if not np.isfinite(value):
                return 1e300, np.zeros(4)
            return value, -(grad @ w) / total

        start = np.log(np.array([1.0, 1.0, 1.0, 1.0]))
        res = minimize(
            objective, start, jac=True, method="L-BFGS-B", bounds=[_LOG_BOUNDS] * 4,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-8},
        )
        r, alpha, a, b = np.exp(res.x)
        self.params_ = {"r": float(r), "alpha": float(alpha * scale), "a": float(a), "b": float(b)}
        self.log_likelihood_ = float(-res.fun * total + np.dot(w, -x * np.log(scale)))
        self.n_customers_ = int(round(total))
        self.converged_ = bool(res.success)
        if not res.success:
            logger.warning("BG/NBD fit did not converge: %s", res.message)
        return self

    def log_likelihood(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        x, tx, t_age = _check_rft(frequency, recency, T)
        p = self._params()
        theta = np.log([p["r"], p["alpha"], p["a"], p["b"]])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll, _ = self._loglik_terms(theta, x, tx, t_age, False)
        return ll

    # ------------------------------------------------------------ prediction
    def _log_odds_dead(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log of ``a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)`` (-inf when x == 0)."""
        p = self._params()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        rep = x > 0
        bx1 = np.where(rep, b + x - 1.0, 1.0)
        return np.where(rep, np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)), -np.inf)

    def probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(the customer has not dropped out) given their history."""
        x, tx, t_age = _check_rft(frequency, recency, T)
        return 1.0 / (1.0 + np.exp(self._log_odds_dead(x, tx, t_age)))

    def expected_purchases(self, t: float | np.ndarray, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """Expected purchases in the next ``t`` time units given the history (conditional expectation).

        Uses the Euler transformation of the Gauss hypergeometric function,
        ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
        whose first two arguments do not grow with ``x``: stable for heavy buyers.
        """
        x, tx, t_age = _check_rft(frequency, recency, T)
        p = self._params()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        if abs(a - 1.0) < 1e-6:
            a = 1.0 + 1e-6
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
        z = t / (alpha + t_age + t)
        c = a + b + x - 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
            numer = c / (a - 1.0) * (1.0 - np.power(1.0 - z, a - 1.0) * hyp)
            denom = 1.0 + np.exp(self._log_odds_dead(x, tx, t_age))
        return np.where(t > 0, numer / denom, 0.0)

    def probability_of_purchase(self, t: float | np.ndarray, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(at least one purchase in the next ``t``) given the history, in closed form.

        A customer who is alive buys at rate ``lambda ~ Gamma(r + x, alpha + T)`` and cannot drop out
        before their next purchase, so ``P(none in t | alive) = ((alpha + T) / (alpha + T + t)) ** (r + x)``
        and the answer is ``P(alive) * (1 - that)``. Unlike :meth:`probability_alive`, which is 1 for
        every customer without a repeat purchase (BG/NBD lets customers drop out only right after a
        purchase), this falls with the time since the last purchase for them too.
        """
        x, tx, t_age = _check_rft(frequency, recency, T)
        p = self._params()
        r, alpha = p["r"], p["alpha"]
        t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
        none = np.exp((r + x) * (np.log(alpha + t_age) - np.log(alpha + t_age + t)))
        return self.probability_alive(x, tx, t_age) * (1.0 - none)

    def discounted_purchases(
        self, t: float, frequency: Any, recency: Any, T: Any, *, annual_rate: float = 0.0, step: float = 30.436875
    ) -> np.ndarray:
        """Expected purchases in the next ``t`` days, each discounted to today at ``annual_rate``.

        The window is cut into steps of about ``step`` days (a month); the purchases expected in each
        step (differences of :meth:`expected_purchases`) are discounted by ``(1 + rate) ** -(end of step
        in years)``, as CLV practice (and lifetimes' ``customer_lifetime_value``) does. With a zero
        rate this is :meth:`expected_purchases`.
        """
        if annual_rate == 0.0 or t <= 0:
            return self.expected_purchases(t, frequency, recency, T)
        n = max(int(np.ceil(t / step - 1e-9)), 1)
        grid = np.linspace(0.0, float(t), n + 1)
        total, previous = 0.0, 0.0
        for end in grid[1:]:
            now = self.expected_purchases(end, frequency, recency, T)
            total = total + (now - previous) * (1.0 + annual_rate) ** -(end / 365.25)
            previous = now
        return np.asarray(total, dtype=float)

    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` for a customer who just made a first purchase."""
        p = self._params()
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        if abs(a - 1.0) < 1e-6:
            a = 1.0 + 1e-6
        t = np.asarray(t, dtype=float)
        z = t / (alpha + t)
        return (a + b - 1.0) / (a - 1.0) * (1.0 - np.power(1.0 - z, r) * hyp2f1(r, b, a + b - 1.0, z))


class GammaGammaModel(_FittedByLikelihood):
    """Gamma-Gamma model of the value of a customer's purchases.

    Fitted on customers with at least one repeat purchase; ``monetary`` is the
    mean value of their repeat purchases. Customers without repeat purchases
    get the population mean ``p * v / (q - 1)``.

    Attributes
    ----------
    params_ : dict with ``p``, ``q`` and ``v`` (in the money unit of the data).
    """

    @staticmethod
    def _loglik_terms(log_params: np.ndarray, x: np.ndarray, m: np.ndarray, want_grad: bool):
        p, q, v = np.exp(log_params)
        px = p * x
        xm_v = x * m + v
        ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(xm_v)
        if not want_grad:
            return ll, None
        d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - np.log(xm_v))
        d_q = digamma(px + q) - digamma(q) + np.log(v) - np.log(xm_v)
        d_v = q / v - (px + q) / xm_v
        return ll, np.stack([d_p * p, d_q * q, d_v * v])

    def fit(self, frequency: Any, monetary: Any, *, weights: Any = None) -> GammaGammaModel:
        """Fit on customers with ``frequency > 0`` and ``monetary > 0`` (others are ignored)."""
        x = _as_float(frequency, "frequency")
        m = _as_float(monetary, "monetary")
        if len(x) != len(m):
            raise ValueError(f"frequency and monetary must have the same length. Got {len(x)} and {len(m)}.")
        w = np.ones_like(x) if weights is None else _as_float(weights, "weights")
        keep = np.isfinite(x) & np.isfinite(m) & (x > 0) & (m > 0)
        if keep.sum() < 2:
            raise ValueError(
                f"GammaGammaModel.fit needs customers with repeat purchases and positive mean value; got {int(keep.sum())}."
            )
        x, m, w = x[keep], m[keep], w[keep]
        scale = float(np.median(m))
        ms = m / scale
        total = float(w.sum())

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad = self._loglik_terms(theta, x, ms, True)
            value = -float(np.dot(w, ll)) / total
            if not np.isfinite(value):
                return 1e300, np.zeros(3)
            return value, -(grad @ w) / total

        res = minimize(
            objective, np.log([1.0, 2.0, 1.0]), jac=True, method="L-BFGS-B", bounds=[_LOG_BOUNDS] * 3,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-8},
        )
        p, q, v = np.exp(res.x)
        self.params_ = {"p": float(p), "q": float(q), "v": float(v * scale)}
        self.log_likelihood_ = float(-res.fun * total - np.dot(w, np.log(scale) * np.ones_like(m)))
        self.n_customers_ = int(round(total))
        self.converged_ = bool(res.success)
        if q <= 1.0:
            logger.warning("Gamma-Gamma fit gave q = %.3f <= 1: the mean spend is undefined; predictions use the observed means", q)
        if not res.success:
            logger.warning("Gamma-Gamma fit did not converge: %s", res.message)
        return self

    def expected_spend(self, frequency: Any, monetary: Any) -> np.ndarray:
        """Expected value of a future purchase: ``p (v + x m) / (p x + q - 1)``; the population mean when x == 0."""
        prm = self._params()
        p, q, v = prm["p"], prm["q"], prm["v"]
        x = _as_float(frequency, "frequency")
        m = np.nan_to_num(_as_float(monetary, "monetary"), nan=0.0)
        x = np.where(m > 0, x, 0.0)
        if q <= 1.0:  # no finite population mean: fall back to the customer's own mean
            return np.where(x > 0, m, np.nan)
        return p * (v + x * m) / (p * x + q - 1.0)

    def population_mean(self) -> float:
        prm = self._params()
        return prm["p"] * prm["v"] / (prm["q"] - 1.0) if prm["q"] > 1.0 else float("nan")



def expected_revenue(
    purchases: BetaGeoModel, spend: GammaGammaModel, t: float, frequency: Any, recency: Any, T: Any, monetary: Any
) -> np.ndarray:
    """Expected revenue over the next ``t``: expected purchases x expected value per purchase (undiscounted)."""
    return purchases.expected_purchases(t, frequency, recency, T) * spend.expected_spend(frequency, monetary)


# ------------------------------------------------------------------ simulation
def sample_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    holdout: float = 0.0,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Simulate ``n`` customers from a BG/NBD model, each observed for ``T`` after a first purchase.

    Returns ``frequency``, ``recency``, ``T``, ``alive`` (at ``T``) and, when
    ``holdout > 0``, ``holdout_purchases`` made in ``(T, T + holdout]``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive int. Got {n!r} instead.")
    rng = np.random.default_rng(random_state)
    t_age = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    drop_after = rng.geometric(p)  # purchases made before dropping out (the last one included)
    arrivals = rng.poisson(lam * t_age)
    x = np.minimum(drop_after, arrivals)
    recency = np.zeros(n)
    some = x > 0
    # the x-th of n uniform arrival times in (0, T] is Beta(x, n - x + 1) * T
    recency[some] = t_age[some] * rng.beta(x[some], arrivals[some] - x[some] + 1)
    alive = drop_after > arrivals
    out = {"frequency": x.astype(np.int64), "recency": recency, "T": t_age, "alive": alive}
    if holdout > 0:
        later = rng.poisson(lam * holdout)
        out["holdout_purchases"] = np.where(alive, np.minimum(later, drop_after - arrivals), 0).astype(np.int64)
    return pd.DataFrame(out)


def sample_gamma_gamma(frequency: Any, *, p: float, q: float, v: float, random_state: int | None = 0) -> np.ndarray:
    """Mean purchase value of each customer's ``frequency`` purchases under a Gamma-Gamma model (NaN when 0)."""
    rng = np.random.default_rng(random_state)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, len(x))
    total = rng.gamma(np.where(x > 0, p * x, 1.0), 1.0 / nu)
    return np.where(x > 0, total / np.maximum(x, 1.0), np.nan)

