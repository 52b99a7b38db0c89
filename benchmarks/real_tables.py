"""Lead-style scoring on real public tables: salesml beside what a user would pick instead.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/real_tables.py [--trials 50] [--only attrition,default]``

Reads the tables in ``../shared/data/dev/tabular/`` (never copied into the repository; see that
folder's README). None has a timestamp, so each is split once, stratified 75/25 with seed 0 (the
README's fixed split), and every model is scored on the same 25% of rows:

* salesml default: ``salesml.train`` on the 75% as a user would call it (the table has no time
  column, so salesml splits it stratified; 5-fold cross-validation inside its non-holdout rows
  chooses the rounds and calibrates; the shipped booster is refitted on every non-holdout row);
* salesml tuned: the same with ``--trials`` Optuna trials, each scored by the 5-fold mean ROC-AUC;
* plain LightGBM: ``lightgbm.LGBMClassifier()`` defaults on the 75% (string columns as pandas
  categories);
* logistic regression: one-hot categoricals, standardised numbers (median-imputed), ``C=1``.

Prints test ROC-AUC, PR-AUC (average precision) and wall time per model and table.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

import salesml

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dev" / "tabular"
#: file -> (target column, the value that is the positive class)
TABLES = {
    "attrition": ("Attrition", "Yes"),
    "credit_data": ("Status", "bad"),
    "lending_club": ("Class", "bad"),
    "default": ("default", "Yes"),
}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    target, positive = TABLES[name]
    df = pd.read_csv(DATA / f"{name}.csv")
    y = (df[target].astype(str) == positive).astype(int).to_numpy()
    return df.drop(columns=[target]), y


def _salesml(X_tr, y_tr, X_te, trials: int, seed: int) -> np.ndarray:
    leads = X_tr.assign(lead_id=[f"r{i}" for i in range(len(X_tr))], converted=y_tr)
    result = salesml.train(
        {"task": "lead-scoring", "random_state": seed}, tables={"leads": leads}, tracker=salesml.NullTracker(),
        trials=trials,
    )
    return result.scorer.predict(X_te.assign(lead_id=[f"t{i}" for i in range(len(X_te))]))


def _as_categories(X: pd.DataFrame, cats: dict[str, list[str]]) -> pd.DataFrame:
    out = X.copy()
    for c, levels in cats.items():
        out[c] = pd.Categorical(out[c].astype("string"), categories=levels)
    return out


def _lightgbm(X_tr, y_tr, X_te, seed: int) -> np.ndarray:
    import lightgbm as lgb

    obj = [c for c in X_tr.columns if not pd.api.types.is_numeric_dtype(X_tr[c])]
    cats = {c: sorted(X_tr[c].dropna().astype(str).unique()) for c in obj}
    model = lgb.LGBMClassifier(random_state=seed, verbosity=-1, n_jobs=2)
    model.fit(_as_categories(X_tr, cats), y_tr)
    return model.predict_proba(_as_categories(X_te, cats))[:, 1]


def _logistic(X_tr, y_tr, X_te, seed: int) -> np.ndarray:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    obj = [c for c in X_tr.columns if not pd.api.types.is_numeric_dtype(X_tr[c])]
    num = [c for c in X_tr.columns if c not in obj]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), obj),
    ])
    model = make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(X_tr, y_tr)
    return model.predict_proba(X_te)[:, 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--only", default="", help="comma-separated table names")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    names = [n for n in TABLES if not args.only or n in args.only.split(",")]
    rows = []
    for name in names:
        X, y = load(name)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        X_tr, X_te = X_tr.reset_index(drop=True), X_te.reset_index(drop=True)
        models = {
            "salesml default": lambda: _salesml(X_tr, y_tr, X_te, 0, args.seed),
            f"salesml tuned ({args.trials})": lambda: _salesml(X_tr, y_tr, X_te, args.trials, args.seed),
            "plain LightGBM": lambda: _lightgbm(X_tr, y_tr, X_te, args.seed),
            "logistic regression": lambda: _logistic(X_tr, y_tr, X_te, args.seed),
        }
        for label, run in models.items():
            t0 = time.perf_counter()
            p = run()
            rows.append({
                "table": name, "rows": len(X), "model": label,
                "roc_auc": roc_auc_score(y_te, p), "pr_auc": average_precision_score(y_te, p),
                "seconds": time.perf_counter() - t0,
            })
            print(f"{name:13s} {label:22s} roc_auc {rows[-1]['roc_auc']:.4f}  pr_auc {rows[-1]['pr_auc']:.4f}  "
                  f"{rows[-1]['seconds']:6.1f} s", flush=True)
    table = pd.DataFrame(rows)
    print()
    print(table.pivot(index="table", columns="model", values="roc_auc").round(4).to_string())
    print()
    print(table.pivot(index="table", columns="model", values="pr_auc").round(4).to_string())


if __name__ == "__main__":
    main()
