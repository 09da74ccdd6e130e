"""Writes ROWS rows to score with the churn model: the key, the time and every model input
(the feature view's five features and five customer columns), seeded, as Parquet.

Usage: score_input.py ROWS OUTPUT.parquet
"""

import sys

import duckdb


def main(rows, out):
    duckdb.sql("SELECT setseed(0.42)")
    duckdb.sql(
        f"""
        COPY (
          SELECT i AS customer_id,
                 TIMESTAMP '2024-01-01' + to_seconds(CAST(random() * 31536000 AS BIGINT)) AS event_timestamp,
                 CAST(floor(random() * 12) AS BIGINT) AS total_purchases,
                 CASE WHEN random() < 0.1 THEN NULL ELSE round(random() * 120, 2) END AS avg_order_value,
                 round(random() * 400, 2) AS spend_90d,
                 CASE WHEN random() < 0.1 THEN NULL ELSE CAST(floor(random() * 365) AS BIGINT) END AS days_since_last_purchase,
                 round(random() * 80, 2) AS spend_per_ticket,
                 ['basic', 'standard', 'premium'][1 + CAST(floor(random() * 3) AS INT)] AS plan,
                 ['north', 'south', 'east', 'west'][1 + CAST(floor(random() * 4) AS INT)] AS region,
                 round(random() * 150, 2) AS monthly_spend,
                 CAST(floor(random() * 8) AS BIGINT) AS support_tickets,
                 CAST(floor(random() * 60) AS BIGINT) AS tenure_months
          FROM range(1, {rows} + 1) t(i)
        ) TO '{out}' (FORMAT PARQUET)
        """
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
