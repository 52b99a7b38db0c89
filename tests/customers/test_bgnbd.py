"""BG/NBD and Gamma-Gamma: published values, parameter recovery, conditional expectations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from salesml.customers.bgnbd import BetaGeoModel, GammaGammaModel, expected_revenue, sample_bgnbd, sample_gamma_gamma

#: Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample (weeks).
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_conditional_expectation_matches_the_published_example():
    # FHL 2005: a customer with 2 repeat purchases, the last at week 30.43 of 38.86,
    # is expected to make 1.226 purchases in the next 39 weeks.
    model = BetaGeoModel.from_dict({"params": CDNOW})
    assert model.expected_purchases(39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=5e-4)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(7)
    T = rng.uniform(27, 39, 40_000)
    data = sample_bgnbd(40_000, **CDNOW, T=T, holdout=39, random_state=8)
    model = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    return data, model


def test_fit_recovers_known_parameters(simulated):
    _, model = simulated
    assert model.converged_
    for name, true in CDNOW.items():
        assert model.params_[name] == pytest.approx(true, rel=0.08), name


def test_conditional_expectation_and_alive_probability_match_the_simulated_future(simulated):
    data, model = simulated
    x, rec, T = data["frequency"], data["recency"], data["T"]
    predicted = model.expected_purchases(39, x, rec, T)
    assert predicted.mean() == pytest.approx(data["holdout_purchases"].mean(), rel=0.03)
    alive = model.probability_alive(x, rec, T)
    assert alive.mean() == pytest.approx(data["alive"].mean(), abs=0.01)
    # customers who bought recently are more likely alive and buy more than those who went quiet
    heavy = x >= 3
    recent = heavy & (T - rec < 5)
    quiet = heavy & (T - rec > 20)
    assert alive[recent].mean() > alive[quiet].mean() + 0.3
    assert data["holdout_purchases"][recent].mean() > data["holdout_purchases"][quiet].mean()
    # a new customer's expectation equals the unconditional one of a customer with no history at T = 0
    assert model.expected_purchases(39, [0], [0.0], [0.0])[0] == pytest.approx(model.expected_purchases_new(39), rel=1e-9)


def test_probability_of_a_purchase_matches_the_simulated_future_where_p_alive_cannot(simulated):
    data, model = simulated
    x, rec, T = data["frequency"], data["recency"], data["T"]
    bought = (data["holdout_purchases"] > 0).to_numpy()
    prob = model.probability_of_purchase(39, x, rec, T)
    assert prob.mean() == pytest.approx(bought.mean(), abs=0.01)
    # one-purchase customers: P(alive) is 1 for all of them, P(purchase) matches their simulated future
    single = (x == 0).to_numpy()
    assert (model.probability_alive(x, rec, T)[single] == 1.0).all()
    assert prob[single].mean() == pytest.approx(bought[single].mean(), abs=0.01)
    # a customer with no history: 1 - (alpha / (alpha + t)) ** r, the Gamma mixture of Poisson zeros
    p = CDNOW
    fresh = BetaGeoModel.from_dict({"params": p}).probability_of_purchase(39, [0], [0.0], [0.0])[0]
    assert fresh == pytest.approx(1 - (p["alpha"] / (p["alpha"] + 39)) ** p["r"], rel=1e-12)


def test_discounted_purchases_sum_monthly_steps_and_equal_the_plain_ones_at_zero_rate():
    model = BetaGeoModel.from_dict({"params": CDNOW})
    x, rec, T = [2, 0], [30.43, 0.0], [38.86, 20.0]
    np.testing.assert_array_equal(model.discounted_purchases(39, x, rec, T), model.expected_purchases(39, x, rec, T))
    # two steps of 19.5 time units: the first half's purchases discounted by 1.2 ** -(19.5 / 365.25), then the rest
    half, full = model.expected_purchases(19.5, x, rec, T), model.expected_purchases(39, x, rec, T)
    want = half * 1.2 ** -(19.5 / 365.25) + (full - half) * 1.2 ** -(39 / 365.25)
    np.testing.assert_allclose(model.discounted_purchases(39, x, rec, T, annual_rate=0.2, step=19.5), want, rtol=1e-12)


def test_analytic_gradient_matches_finite_differences(simulated):
    data, _ = simulated
    x, rec, T = (data[c].to_numpy(dtype=float)[:2000] for c in ("frequency", "recency", "T"))
    theta = np.log([0.3, 5.0, 0.7, 2.0])

    def total(th):
        return BetaGeoModel._loglik_terms(th, x, rec, T, False)[0].sum()

    _, grad = BetaGeoModel._loglik_terms(theta, x, rec, T, True)
    np.testing.assert_allclose(grad.sum(axis=1), approx_fprime(theta, total, 1e-6), rtol=1e-4)


def test_heavy_buyers_stay_finite_and_time_units_do_not_matter(simulated):
    model = BetaGeoModel.from_dict({"params": CDNOW})
    heavy = model.expected_purchases(39, [500, 2000], [38.0, 38.5], [38.86, 38.86])
    assert np.isfinite(heavy).all() and (heavy > 0).all()
    data, fitted = simulated
    in_days = BetaGeoModel().fit(data["frequency"], data["recency"] * 7, data["T"] * 7)
    assert in_days.params_["alpha"] == pytest.approx(7 * fitted.params_["alpha"], rel=1e-3)
    assert in_days.params_["r"] == pytest.approx(fitted.params_["r"], rel=1e-3)


def test_gamma_gamma_recovers_known_parameters_and_shrinks_to_the_mean():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 12, 30_000)
    money = sample_gamma_gamma(x, p=6.25, q=3.74, v=15.44, random_state=4)
    model = GammaGammaModel().fit(x, money)
    assert model.params_["p"] == pytest.approx(6.25, rel=0.1)
    assert model.params_["q"] == pytest.approx(3.74, rel=0.1)
    assert model.params_["v"] == pytest.approx(15.44, rel=0.15)
    population = model.population_mean()
    assert population == pytest.approx(6.25 * 15.44 / 2.74, rel=0.05)
    # no repeat purchases -> the population mean; many purchases -> close to the customer's own mean
    spend = model.expected_spend([0, 1, 100], [np.nan, 80.0, 80.0])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 80.0
    assert spend[2] == pytest.approx(80.0, rel=0.05)


def test_expected_revenue_is_purchases_times_spend():
    bg = BetaGeoModel.from_dict({"params": CDNOW})
    gg = GammaGammaModel.from_dict({"params": {"p": 6.25, "q": 3.74, "v": 15.44}})
    revenue = expected_revenue(bg, gg, 39, [2, 0], [30.43, 0.0], [38.86, 20.0], [40.0, np.nan])
    np.testing.assert_allclose(
        revenue,
        bg.expected_purchases(39, [2, 0], [30.43, 0.0], [38.86, 20.0]) * gg.expected_spend([2, 0], [40.0, np.nan]),
    )


def test_round_trip_and_determinism(simulated):
    data, model = simulated
    again = BetaGeoModel().fit(data["frequency"], data["recency"], data["T"])
    assert again.params_ == model.params_
    loaded = BetaGeoModel.from_dict(model.to_dict())
    np.testing.assert_array_equal(loaded.probability_alive([1, 3], [5.0, 9.0], [10.0, 30.0]), model.probability_alive([1, 3], [5.0, 9.0], [10.0, 30.0]))


@pytest.mark.parametrize(
    "args, message",
    [
        (([1], [12.0], [10.0]), "recency .* must lie between 0 and T"),
        (([1.5], [1.0], [10.0]), "frequency must count repeat purchases"),
        (([2], [0.0], [10.0]), "must have recency > 0"),
        (([1, 2], [1.0], [10.0]), "must have the same length. Got 2, 1 and 1"),
    ],
)
def test_bad_inputs_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        BetaGeoModel().fit(*args)


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        BetaGeoModel().probability_alive([1], [1.0], [2.0])
