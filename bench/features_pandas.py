#!/usr/bin/env python3
"""The churn example's `customer_features`, computed with pandas the way a notebook would.

Usage: features_pandas.py CUSTOMERS_CSV ORDERS_PARQUET OUT_PARQUET

Same definitions as examples/churn/churn.mlp, point in time: only orders with
ts <= the customer's event_timestamp count; the 90-day window is
ts > event_timestamp - 90 days; days_between counts calendar-day boundaries (like
DuckDB's date_diff('day', ...)). Output: one row per customer, in the CSV's order:
customer_id, event_timestamp, total_purchases, avg_order_value, spend_90d,
days_since_last_purchase, spend_per_ticket.
"""
import sys

import pandas as pd

customers_csv, orders_parquet, out_path = sys.argv[1:4]

customers = pd.read_csv(customers_csv, parse_dates=["event_timestamp"])
orders = pd.read_parquet(orders_parquet)

# Every order next to its customer's event time; keep the ones known at that time.
df = orders.merge(customers[["customer_id", "event_timestamp"]], on="customer_id")
df = df[df["ts"] <= df["event_timestamp"]]
in_90d = df["ts"] > df["event_timestamp"] - pd.Timedelta(days=90)
df["amount_90d"] = df["amount"].where(in_90d, 0.0)

agg = df.groupby("customer_id").agg(
    total_purchases=("order_id", "size"),
    avg_order_value=("amount", "mean"),
    spend_90d=("amount_90d", "sum"),
    last_order=("ts", "max"),
)

# Customers without orders before their event time keep a row (count 0, spend 0).
out = customers[["customer_id", "event_timestamp"]].merge(agg, on="customer_id", how="left")
out["total_purchases"] = out["total_purchases"].fillna(0).astype("int64")
out["spend_90d"] = out["spend_90d"].fillna(0.0)
out["days_since_last_purchase"] = (
    out["event_timestamp"].dt.normalize() - out["last_order"].dt.normalize()
).dt.days.astype("Int64")
out["spend_per_ticket"] = customers["monthly_spend"] / (customers["support_tickets"] + 1)
out = out.drop(columns="last_order")
out.to_parquet(out_path, index=False)
