from __future__ import annotations

import subprocess
import sys
import textwrap

import optuna
import pytest

from salesml.core.tuning import get_search_space, run_study


def quadratic(trial, params):
    return -((params["x"] - 2.0) ** 2)


def space(trial):
    return {"x": trial.suggest_float("x", -10, 10)}


def test_seeded_study_is_reproducible():
    a = run_study(quadratic, space=space, direction="maximize", n_trials=15, random_state=3)
    b = run_study(quadratic, space=space, direction="maximize", n_trials=15, random_state=3)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]
    assert a.best_params["x"] == pytest.approx(2.0, abs=1.0)


def test_journal_storage_resumes(tmp_path):
    storage = str(tmp_path / "study.journal")
    run_study(quadratic, space=space, direction="maximize", n_trials=4, storage=storage, study_name="s")
    study = run_study(quadratic, space=space, direction="maximize", n_trials=3, storage=storage, study_name="s")
    assert len(study.trials) == 7
    assert len({t.params["x"] for t in study.trials}) == 7  # the resumed worker explores new points


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    code = textwrap.dedent(
        f"""
        from salesml.core.tuning import run_study
        run_study(lambda t, p: -(p["x"] - 1) ** 2, space=lambda t: {{"x": t.suggest_float("x", -5, 5)}},
                  direction="maximize", n_trials=5, storage={url!r}, study_name="shared", random_state=int(__import__('sys').argv[1]))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(seed)]) for seed in (0, 1)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=url)
    assert len(study.trials) == 10


def test_pruned_trials_are_recorded():
    def objective(trial, params):
        if trial.number % 2:
            raise optuna.TrialPruned()
        return params["x"]

    study = run_study(objective, space=space, direction="maximize", n_trials=6)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == 3


def test_budget_and_space_errors():
    with pytest.raises(ValueError, match="Give the study a budget: n_trials, timeout"):
        run_study(quadratic, space=space, direction="maximize", n_trials=None)
    with pytest.raises(ValueError, match="Unknown search space 'nope'. Known: lightgbm, lightgbm-small"):
        get_search_space("nope")


def test_lightgbm_pruning_prunes_bad_trials(crm):
    """With the real flow, LightGBM reports validation AUC each round and the median pruner stops laggards."""
    import salesml

    result = salesml.train(
        {"task": "lead-scoring", "tuning": {"trials": 12}, "random_state": 1},
        tables={"leads": crm.leads.head(8_000)},
        tracker=salesml.NullTracker(),
    )
    states = [t.state for t in result.study.trials]
    assert len(states) == 12
    assert result.study.best_params.keys() >= {"learning_rate", "num_leaves"}
    assert result.params["learning_rate"] == pytest.approx(result.study.best_params["learning_rate"])


def test_the_tuning_history_plot_labels_the_objective_as_the_study_defines_it():
    import matplotlib.pyplot as plt
    import numpy as np

    from salesml.core.plots import tuning_history_plot

    fig = tuning_history_plot([0.3, np.nan, 0.2], False, "mean wape over 3 rolling-origin windows")
    assert fig.axes[0].get_ylabel() == "mean wape over 3 rolling-origin windows"
    plt.close(fig)
