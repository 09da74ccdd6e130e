#!/usr/bin/env python3
"""Evidently's side of bench/drift.sh, and the data both sides read.

    drift_evidently.py prepare CUSTOMERS.csv ORDERS.parquet OUT.parquet [--rows N]
        one row per customer, 15 columns (numbers, integers, bools, categories) from `mlpc example-data churn`
    drift_evidently.py run REFERENCE.parquet CURRENT.parquet OUT.json
        Report([DataDriftPreset()]) on the two files with pandas; per-column test and score, and timings
    drift_evidently.py compare MLPC.json EVIDENTLY.json
        same test per column, scores within 1e-9 (relative above 1), same verdicts and drift share

Column types are given to Evidently explicitly (DataDefinition) as mlpc reads them from Parquet: integers and
floats numerical, bools and text categorical. (Left to itself Evidently 0.7 treats an integer column with at
most 10 distinct values as categorical.)
"""

import json
import sys
import time

import numpy as np
import pandas as pd

CATEGORICAL = ["plan", "region", "churned", "ordered_last_30d"]
METHODS = {
    "K-S p_value": "ks",
    "chi-square p_value": "chi_square",
    "Z-test p_value": "z_test",
    "Jensen-Shannon distance": "jensen_shannon",
    "Wasserstein distance (normed)": "wasserstein",
    "PSI": "psi",
}


def prepare(customers_csv, orders_parquet, out, rows=None):
    c = pd.read_csv(customers_csv, parse_dates=["signup_date", "event_timestamp"])
    o = pd.read_parquet(orders_parquet)
    o = o.merge(c[["customer_id", "event_timestamp"]], on="customer_id")
    o = o[o.ts <= o.event_timestamp]
    o["age_days"] = (o.event_timestamp - o.ts).dt.total_seconds() / 86400
    agg = o.groupby("customer_id").agg(
        n_orders=("amount", "size"),
        total_amount=("amount", "sum"),
        mean_amount=("amount", "mean"),
        max_amount=("amount", "max"),
        min_amount=("amount", "min"),
        days_since_last_order=("age_days", "min"),
        orders_90d=("age_days", lambda a: int((a <= 90).sum())),
    )
    f = c.merge(agg, left_on="customer_id", right_index=True, how="left")
    f["n_orders"] = f.n_orders.fillna(0).astype("int64")
    f["orders_90d"] = f.orders_90d.fillna(0).astype("int64")
    f["ordered_last_30d"] = f.days_since_last_order.le(30)
    f["signup_month"] = f.signup_date.dt.month.astype("int64")
    f["spend_per_order"] = f.monthly_spend / f.n_orders.clip(lower=1)
    cols = [
        "plan", "region", "monthly_spend", "support_tickets", "tenure_months", "churned", "n_orders",
        "total_amount", "mean_amount", "max_amount", "min_amount", "days_since_last_order", "orders_90d",
        "ordered_last_30d", "signup_month",
    ]
    f = f[cols]
    if rows:
        f = f.sample(n=rows, random_state=1)
    f["monthly_spend"] = f.monthly_spend.astype("float64")
    f.to_parquet(out, index=False)


def run(reference, current, out):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    t1 = time.perf_counter()
    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c not in CATEGORICAL],
        categorical_columns=[c for c in ref.columns if c in CATEGORICAL],
    )
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition), Dataset.from_pandas(ref, data_definition=definition)
    )
    t2 = time.perf_counter()
    columns, share = {}, None
    for m in snapshot.dict()["metrics"]:
        cfg = m["config"]
        if cfg["type"].endswith("ValueDrift"):
            columns[cfg["column"]] = dict(test=METHODS[cfg["method"]], score=float(m["value"]), threshold=cfg["threshold"])
        elif cfg["type"].endswith("DriftedColumnsCount"):
            share = m["value"]["share"]
    result = dict(read_s=t1 - t0, compute_s=t2 - t1, columns=columns, drift_share=share, dataset_drift=share >= 0.5)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)


def compare(mlpc_json, evidently_json):
    m, e = json.load(open(mlpc_json)), json.load(open(evidently_json))
    ours = {c["column"]: c for c in m["columns"]}
    problems, worst = [], 0.0
    for name, ev in e["columns"].items():
        c = ours.get(name)
        if c is None:
            problems.append(f"{name}: not in mlpc's report")
            continue
        if c["test"] != ev["test"]:
            problems.append(f"{name}: mlpc {c['test']}, Evidently {ev['test']}")
            continue
        diff = abs(c["score"] - ev["score"]) / max(1.0, abs(ev["score"]))
        worst = max(worst, diff)
        if diff > 1e-9:
            problems.append(f"{name} {c['test']}: mlpc {c['score']!r}, Evidently {ev['score']!r}")
    if abs(m["drift_share"] - e["drift_share"]) > 1e-12 or m["dataset_drift"] != e["dataset_drift"]:
        problems.append(f"drift share: mlpc {m['drift_share']}, Evidently {e['drift_share']}")
    if problems:
        sys.exit("statistics differ:\n  " + "\n  ".join(problems))
    tests = sorted({c["test"] for c in e["columns"].values()})
    print(
        f"agree: {len(e['columns'])} columns ({', '.join(tests)}), largest score difference {worst:.1e}, "
        f"drift share {e['drift_share']:.3f}"
    )


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "prepare":
        rows = int(args[args.index("--rows") + 1]) if "--rows" in args else None
        prepare(*args[:3], rows=rows)
    elif cmd == "run":
        run(*args)
    elif cmd == "compare":
        compare(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
