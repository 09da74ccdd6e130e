#!/usr/bin/env python3
"""Writes a large, valid .mlp program for benchmarking `mlpc check`.

The program is deterministic (same N, same text) and checks clean: every declaration is
used, so there are no unused-declaration warnings either. It is built from repeated
"units", each a small lifecycle of its own:

- three sources (an entity, its events, the events' line items) linked by `references`,
  each with a `check` block;
- two feature views on the entity: aggregations over the events (one hop) and the line
  items (two hops), windowed with `over`, plus row-level features;
- a dataset joining both views with a split, a model trained on it, an evaluation, a
  registration with promotion rules, a `serve` block with a canary, and a monitor.

Units alternate between classification and regression and rotate through the
algorithms, splitters and metrics, so every path of the checker is exercised.

Usage:
    bench/gen_program.py [LINES] [OUTPUT]      # defaults: 100000 lines, stdout

Only the Python 3 standard library is used.
"""

import sys

ALGORITHMS = {
    "classification": [
        ("gradient_boosting", "trees = {t}, depth = 6, learning_rate = 0.1"),
        ("random_forest", "trees = {t}, depth = 8, seed = {i}"),
        ("logistic_regression", "max_iter = 200"),
        ("mlp", "hidden = [64, 32], epochs = 20, seed = {i}"),
    ],
    "regression": [
        ("linear_regression", "alpha = 0.5"),
        ("gradient_boosting", "trees = {t}, depth = 4, learning_rate = 0.05"),
        ("random_forest", "trees = {t}, depth = 10"),
        ("mlp", "hidden = [32], epochs = 10"),
    ],
}

METRICS = {
    "classification": ("[accuracy, auc, f1, log_loss, precision, recall]", "auc >= 0.80 and f1 >= 0.60", "auc >= production.auc - 0.01 and approved", "auc < 0.75"),
    "regression": ("[rmse, mae, r2]", "r2 >= 0.50", "rmse <= production.rmse and approved", "r2 < 0.40"),
}


def unit(i: int) -> str:
    task = "classification" if i % 2 == 0 else "regression"
    label = "churned" if task == "classification" else "lifetime_value"
    algo, params = ALGORITHMS[task][(i // 2) % 4]
    params = params.format(i=i, t=100 + i % 300)
    metrics, staging, production, alert_metric = METRICS[task]
    split = (
        f"random(train = 70%, validation = 15%, test = 15%, seed = {i})"
        if i % 3 else "time(train = 80%, test = 20%)"
    )
    acct, txn, item = f"account_{i}", f"txn_{i}", f"line_item_{i}"
    activity, profile = f"{acct}_activity", f"{acct}_profile"
    data, model, reg = f"{acct}_data", f"{acct}_model", f"account-model-{i}"
    return f'''/// Accounts of region group {i}: one row per account.
source {acct} = csv("data/{acct}.csv", delimiter = ",") {{
  account_id:      int       key
  region:          category
  plan:            category
  email:           string
  balance:         float
  tenure_months:   int
  visits:          int
  support_tickets: int
  signup_date:     date
  {(label + ":").ljust(16)} {"bool" if task == "classification" else "float"}
  updated_at:      timestamp time  // when this row was true
}}

/// Payments made by the accounts of group {i}.
source {txn} = parquet("data/{txn}.parquet") {{
  txn_id:     int       key
  account_id: int       references {acct}.account_id
  amount:     float
  channel:    category
  paid_at:    timestamp time
}}

/// What each payment of group {i} bought.
source {item} = parquet("data/{item}.parquet") {{
  line_id:  int       key
  txn_id:   int       references {txn}.txn_id
  sku:      string
  quantity: int
  price:    float
  added_at: timestamp time
}}

check {acct} {{
  expect unique(account_id)
  expect not_null(account_id, region, plan)
  expect balance between 0 and 1000000
  expect null_fraction(email) < 5%
  expect row_count() >= 1000
  on_fail = stop
}}

check {txn} {{
  expect unique(txn_id)
  expect amount >= 0
  expect row_count() > 0
  on_fail = warn
}}

check {item} {{
  expect unique(line_id)
  expect quantity between 1 and 1000
  on_fail = warn
}}

/// Spending behaviour, from payments and line items.
features {activity} on {acct} {{
  ttl = 1d
  payments:          int   = count({txn})
  avg_payment:       float = mean({txn}.amount)
  spend_30d:         float = sum({txn}.amount) over 30d
  spend_90d:         float = sum({txn}.amount) over 90d
  largest_payment:   float = max({txn}.amount)
  payment_spread:    float = stddev({txn}.amount)
  channels_used:     int   = count_distinct({txn}.channel)
  days_since_paid:   int   = days_between(max({txn}.paid_at), updated_at)
  items_bought_90d:  int   = sum({item}.quantity) over 90d
  median_item_price: float = median({item}.price)
  distinct_skus:     int   = count_distinct({item}.sku)
}}

/// Row-level facts about the account itself.
features {profile} on {acct} {{
  tenure_years:      float = tenure_months / 12
  balance_per_visit: float = balance / (visits + 1)
  tickets_per_year:  float = support_tickets / (tenure_months / 12 + 1)
  signup_year:       int   = year(signup_date)
  log_balance:       float = log(balance + 1)
}}

dataset {data} = {acct} with {activity}, {profile} {{
  label = {label}
  split = {split}
}}

model {model} = {algo}({params}) {{
  train  = {data}.train
  inputs = {activity} + {profile} + [region, plan, tenure_months, visits]
  device = auto
}}

evaluate {model} on {data}.test {{
  metrics = {metrics}
  slice by region, plan
}}

register {model} as "{reg}" {{
  promote to staging    when {staging}
  promote to production when {production}
}}

serve "{reg}" {{
  stage    = production
  features = {activity}
  canary {{
    steps    = [5%, 25%, 50%, 100%]
    interval = 30m
    promote  when p99_latency < 50ms and error_rate < 1%
    rollback when error_rate > 2% or p99_latency > 200ms
  }}
  shadow   = staging
  fallback = previous
}}

monitor {acct}_drift on "{reg}" {{
  every     = 1h
  window    = 24h
  reference = {data}.train
  alert when drift(spend_30d, psi) > 0.2
  alert when drift(region, chi_square) > 0.3
  alert when drift_share() > 30% then retrain {model}
  alert when {alert_metric} then rollback
}}
'''


HEADER = '''// Generated by bench/gen_program.py: a large program for benchmarking `mlpc check`.

/// A synthetic fleet of account models.
pipeline bench {
  owner    = "ml-platform@example.com"
  schedule = "0 2 * * *"
}
'''


def generate(lines: int) -> str:
    parts = [HEADER]
    count = HEADER.count("\n")
    i = 0
    while count < lines:
        u = "\n" + unit(i)
        parts.append(u)
        count += u.count("\n")
        i += 1
    return "".join(parts)


def main(argv: list) -> int:
    if len(argv) > 3 or any(a in ("-h", "--help") for a in argv[1:]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lines = int(argv[1]) if len(argv) > 1 else 100_000
    text = generate(lines)
    if len(argv) > 2 and argv[2] != "-":
        with open(argv[2], "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
