#!/usr/bin/env python3
"""Compare two feature tables column by column (row order as written).

Usage: features_compare.py EXPECTED.parquet ACTUAL.parquet [TOLERANCE]

Integer, timestamp and null positions must match exactly; floats within TOLERANCE
(default 1e-9, absolute, or relative for values above 1). Exit 0 when equal, 1 with
a report of each differing column otherwise.
"""
import sys

import numpy as np
import pyarrow.parquet as pq

expected_path, actual_path = sys.argv[1:3]
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-9
a = pq.read_table(expected_path)
b = pq.read_table(actual_path)
problems = []
if a.num_rows != b.num_rows:
    problems.append(f"rows: {a.num_rows} vs {b.num_rows}")
if a.column_names != b.column_names:
    problems.append(f"columns: {a.column_names} vs {b.column_names}")
for name in a.column_names:
    if problems and problems[0].startswith("rows") or name not in b.column_names:
        break
    x, y = a.column(name), b.column(name)
    xn = x.is_null().to_numpy(zero_copy_only=False)
    yn = y.is_null().to_numpy(zero_copy_only=False)
    if (xn != yn).any():
        problems.append(f"{name}: nulls differ in {(xn != yn).sum()} rows (first row {np.argmax(xn != yn)})")
        continue
    if x.type.equals(b.schema.field(name).type) is False and not (
        str(x.type).startswith("timestamp") and str(y.type).startswith("timestamp")
    ):
        problems.append(f"{name}: type {x.type} vs {y.type}")
    if str(x.type).startswith("timestamp"):
        xv = x.cast("timestamp[us]").to_numpy(zero_copy_only=False)
        yv = y.cast("timestamp[us]").to_numpy(zero_copy_only=False)
        bad = (xv != yv) & ~xn
    elif str(x.type) in ("double", "float"):
        xv = x.to_numpy(zero_copy_only=False).astype(float)
        yv = y.to_numpy(zero_copy_only=False).astype(float)
        diff = np.where(xn, 0.0, np.abs(xv - yv))
        scale = np.maximum(1.0, np.maximum(np.abs(np.nan_to_num(xv)), np.abs(np.nan_to_num(yv))))
        bad = diff > tol * scale
        print(f"  {name}: max abs difference {diff.max():.3g}")
    else:
        xv = x.to_numpy(zero_copy_only=False)
        yv = y.to_numpy(zero_copy_only=False)
        bad = (xv != yv) & ~xn
    if bad.any():
        i = int(np.argmax(bad))
        problems.append(f"{name}: {int(bad.sum())} rows differ, first row {i}: {xv[i]} vs {yv[i]}")
if problems:
    print(f"DIFFERENT: {expected_path} vs {actual_path}")
    for p in problems:
        print("  " + p)
    sys.exit(1)
print(f"equal: {a.num_rows} rows x {len(a.column_names)} columns (float tolerance {tol:g})")
