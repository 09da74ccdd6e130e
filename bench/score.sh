#!/usr/bin/env bash
# Benchmarks batch scoring: `mlpc score` against a Python job doing the same with pandas +
# onnxruntime (bench/score_python.py), on the same model and the same rows, as whole
# processes in the same hyperfine run. The model is the churn example's (gradient boosting,
# 200 trees of depth 6, trained without cross-validation on the checked-in sample and put
# in production); the rows are ROWS seeded customers carrying every model input
# (bench/score_input.py), as Parquet, so neither side computes features. Both score in
# batches of 65,536 rows and write the key, time, model name and version, label and
# per-class probabilities to Parquet. Before timing, both outputs are checked to agree
# (same rows and labels, probabilities within 1e-6).
#
# Usage, from the repository root:
#   bench/score.sh                  # 1,000,000 rows, 5 runs each
#   ROWS=100000 RUNS=10 bench/score.sh
#
# Environment: ROWS (default 1000000), RUNS (default 5), MLPC (a built mlpc binary; its
# mlpc-runtime beside it), PYTHON (with bench/requirements.txt; default the project's
# .venv), KEEP (a folder to keep the data and results in). Extra arguments go to hyperfine.
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
RUNS="${RUNS:-5}"

. bench/common.sh

"$PYTHON" -c 'import onnxruntime, pandas, pyarrow, sys; print(f"python {sys.version.split()[0]}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, onnxruntime {onnxruntime.__version__}")' >&2

cp -r examples/churn/data "$tmp/data"
sed 's/^  cv     = 5$//' examples/churn/churn.mlp > "$tmp/churn.mlp"
"$MLPC" run "$tmp/churn.mlp" --state "$tmp/state" >/dev/null 2>&1
"$MLPC" promote churn-predictor 1 --stage production --by bench --state "$tmp/state" >/dev/null
sha="$("$MLPC" models show churn-predictor --state "$tmp/state" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["artifact_sha256"])')"
model="$tmp/state/artifacts/${sha:0:2}/$sha.onnx"
"$PYTHON" bench/score_input.py "$ROWS" "$tmp/rows.parquet"

mlpc_cmd="$MLPC score churn-predictor --stage production --input $tmp/rows.parquet --output $tmp/mlpc.parquet --state $tmp/state"
python_cmd="$PYTHON bench/score_python.py $model $tmp/rows.parquet $tmp/python.parquet churn-predictor 1"

$mlpc_cmd >&2
$python_cmd
"$PYTHON" - "$tmp/mlpc.parquet" "$tmp/python.parquet" <<'PY'
import sys
import numpy as np
import pandas as pd
a, b = (pd.read_parquet(p) for p in sys.argv[1:3])
assert list(a.columns) == list(b.columns), (list(a.columns), list(b.columns))
assert len(a) == len(b), (len(a), len(b))
assert (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all(), "same rows in the same order"
assert (a["label"] == b["label"]).all(), "same labels"
gap = max(np.abs(a[c].to_numpy() - b[c].to_numpy()).max() for c in a.columns if c.startswith("probability_"))
assert gap <= 1e-6, gap
print(f"correctness: {len(a)} rows, same keys and labels, probabilities within {gap:.1e}", file=sys.stderr)
PY

hyperfine --warmup 1 --runs "$RUNS" -N \
  -n "mlpc score ($ROWS rows)" "$mlpc_cmd" \
  -n "pandas + onnxruntime ($ROWS rows)" "$python_cmd" \
  "$@"
