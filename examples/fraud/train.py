#!/usr/bin/env python3
"""Trains the `fraud_sklearn` model of fraud.mlp and writes it as ONNX.

mlpc runs this as the model's `command(...)`: `{train}` becomes the training split,
written as Parquet, and `{model}` the path the ONNX file must be written to.

    python3 train.py --train TRAIN.parquet --out MODEL.onnx --label is_fraud \
        --inputs amount,amount_ratio,channel,...

The ONNX graph has one input per column in `--inputs`, named after the column and
shaped [N, 1]: float32 for numeric and boolean columns (nulls are imputed with the
training median), string for the others (categories; unseen values are ignored). Its outputs are `label` (int64, 1 = fraud) and `probabilities`
(float32, [N, 2]: not fraud, fraud).

Needs: scikit-learn, skl2onnx, pandas, pyarrow.
"""

import argparse
import sys

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", required=True, help="training split (Parquet)")
    p.add_argument("--out", required=True, help="where to write the ONNX model")
    p.add_argument("--label", required=True, help="label column (bool or 0/1)")
    p.add_argument("--inputs", help="comma-separated input columns; default: every column but the label")
    p.add_argument("--seed", type=int, default=42)
    return p.parse_args(argv)


def split_columns(df, inputs):
    numeric, categorical = [], []
    for c in inputs:
        kind = df[c].dtype.kind
        if kind in "iufb":
            numeric.append(c)
        else:
            categorical.append(c)
    return numeric, categorical


def prepare(df, label, inputs):
    """The feature frame (numeric columns first, as float32; then categories, as
    strings) and the 0/1 label."""
    numeric, categorical = split_columns(df, inputs)
    X = pd.DataFrame(index=df.index)
    for c in numeric:
        X[c] = df[c].astype(np.float32)
    for c in categorical:
        X[c] = df[c].astype("string").fillna("").astype(object)
    return X, df[label].astype(np.int64), numeric, categorical


def fit(X, y, numeric, categorical, seed=42):
    """Median-imputes numeric inputs, one-hot encodes categories, fits boosted trees."""
    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
        ]
    )
    clf = GradientBoostingClassifier(
        n_estimators=300,
        learning_rate=0.05,
        max_depth=4,
        subsample=0.8,
        random_state=seed,
    )
    # Fraud is rare: weight each class by the inverse of its frequency.
    weights = y.map(len(y) / (2 * y.value_counts())).to_numpy()
    return Pipeline([("pre", pre), ("clf", clf)]).fit(X, y, clf__sample_weight=weights)


def export(model, numeric, categorical):
    """The fitted pipeline as ONNX, one [N, 1] input per column."""
    initial_types = [(c, FloatTensorType([None, 1])) for c in numeric]
    initial_types += [(c, StringTensorType([None, 1])) for c in categorical]
    clf = model.named_steps["clf"]
    return to_onnx(
        model,
        initial_types=initial_types,
        options={id(clf): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )


def main(argv=None):
    args = parse_args(argv)
    df = pd.read_parquet(args.train)
    if args.label not in df.columns:
        sys.exit(f"train.py: label column `{args.label}` is not in {args.train}")
    inputs = args.inputs.split(",") if args.inputs else [c for c in df.columns if c != args.label]
    missing = [c for c in inputs if c not in df.columns]
    if missing:
        sys.exit(f"train.py: input columns missing from {args.train}: {', '.join(missing)}")
    if args.label in inputs:
        sys.exit(f"train.py: the label `{args.label}` cannot be an input")

    X, y, numeric, categorical = prepare(df, args.label, inputs)
    if y.nunique() < 2:
        sys.exit("train.py: the training split needs rows of both classes")
    model = fit(X[numeric + categorical], y, numeric, categorical, args.seed)
    with open(args.out, "wb") as f:
        f.write(export(model, numeric, categorical).SerializeToString())
    print(f"train.py: {len(df)} rows, {len(inputs)} inputs -> {args.out}")


if __name__ == "__main__":
    main()
