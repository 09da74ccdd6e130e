"""Fits the scikit-learn model a user would otherwise pick on mlpc's own train split and
scores mlpc's test split: the same rows, inputs and parameters as the mlpc run.

    python3 bench/train_sklearn.py ALGORITHM PARAMS_JSON TRAIN.parquet TEST.parquet

Prints one JSON line: fit_seconds (preprocessing + fit, in process) and auc.
Preprocessing mirrors mlpc's: mean imputation; standardization and one-hot categories for
logistic regression; ordinal category codes for the tree ensembles.
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

NUMBERS = ["total_purchases", "avg_order_value", "spend_90d", "days_since_last_purchase", "spend_per_ticket",
           "monthly_spend", "support_tickets", "tenure_months"]
CATEGORIES = ["plan", "region"]
LABEL = "churned"
THREADS = int(os.environ.get("THREADS", "2"))


def model(algorithm: str, p: dict) -> Pipeline:
    if algorithm == "logistic_regression":
        prep = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), NUMBERS),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORIES),
        ])
        return make_pipeline(prep, LogisticRegression(C=p["c"], max_iter=p["max_iter"], tol=p["tol"]))
    prep = ColumnTransformer([
        ("num", SimpleImputer(strategy="mean"), NUMBERS),
        ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), CATEGORIES),
    ])
    if algorithm == "gradient_boosting":
        return make_pipeline(prep, HistGradientBoostingClassifier(
            max_iter=p["trees"], max_depth=p["depth"], learning_rate=p["learning_rate"], max_bins=p["max_bins"],
            min_samples_leaf=p["min_leaf"], l2_regularization=p["l2"], early_stopping=False, max_leaf_nodes=None,
            random_state=p["seed"]))
    if algorithm == "random_forest":
        return make_pipeline(prep, RandomForestClassifier(
            n_estimators=p["trees"], max_depth=p["depth"] or None, min_samples_leaf=p["min_leaf"],
            max_features=p["max_features"], n_jobs=THREADS, random_state=p["seed"]))
    raise SystemExit(f"unknown algorithm {algorithm}")


def main() -> None:
    algorithm, params, train_path, test_path = sys.argv[1:5]
    train = pd.read_parquet(train_path)
    test = pd.read_parquet(test_path)
    for c in CATEGORIES:
        train[c] = train[c].astype(str)
        test[c] = test[c].astype(str)
    m = model(algorithm, json.loads(params))
    start = time.perf_counter()
    m.fit(train[NUMBERS + CATEGORIES], train[LABEL].astype(bool))
    fit_seconds = time.perf_counter() - start
    p = m.predict_proba(test[NUMBERS + CATEGORIES])[:, 1]
    print(json.dumps({"fit_seconds": fit_seconds, "auc": roc_auc_score(test[LABEL].astype(bool), p),
                      "train_rows": len(train), "test_rows": len(test)}))


if __name__ == "__main__":
    main()
