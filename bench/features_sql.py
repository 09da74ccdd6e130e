#!/usr/bin/env python3
"""The churn example's `customer_features` as one hand-written DuckDB query.

Usage: features_sql.py CUSTOMERS_CSV ORDERS_PARQUET OUT_PARQUET

Same definitions and output columns as bench/features_pandas.py; rows in the CSV's
order (customer_id ascending in the generated data).
"""
import sys

import duckdb

customers_csv, orders_parquet, out_path = sys.argv[1:4]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


QUERY = f"""
COPY (
  WITH c AS (
    SELECT customer_id, event_timestamp, monthly_spend, support_tickets
    FROM read_csv({lit(customers_csv)})
  ),
  agg AS (
    SELECT c.customer_id,
           count(*)                                                          AS total_purchases,
           avg(o.amount)                                                     AS avg_order_value,
           sum(o.amount) FILTER (WHERE o.ts > c.event_timestamp - INTERVAL 90 DAY) AS spend_90d,
           max(o.ts)                                                         AS last_order
    FROM c JOIN read_parquet({lit(orders_parquet)}) AS o
      ON o.customer_id = c.customer_id AND o.ts <= c.event_timestamp
    GROUP BY c.customer_id
  )
  SELECT c.customer_id,
         c.event_timestamp,
         coalesce(a.total_purchases, 0)                     AS total_purchases,
         a.avg_order_value,
         coalesce(a.spend_90d, 0)                           AS spend_90d,
         date_diff('day', a.last_order, c.event_timestamp)  AS days_since_last_purchase,
         c.monthly_spend / (c.support_tickets + 1)          AS spend_per_ticket
  FROM c LEFT JOIN agg AS a USING (customer_id)
  ORDER BY c.customer_id
) TO {lit(out_path)} (FORMAT PARQUET)
"""

duckdb.connect().execute(QUERY)
