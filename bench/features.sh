#!/usr/bin/env bash
# Benchmarks `mlpc run` on the churn example's features (examples/churn/churn.mlp) at
# 1,000,000 customers / about 5,000,000 orders against the same features computed by
#   - pandas, the way a notebook would (bench/features_pandas.py), and
#   - one hand-written DuckDB query (bench/features_sql.py, Python duckdb package),
# all as whole processes on the same generated files (`mlpc example-data churn`):
#   1. mlpc run, full data stage (sources, check, features, dataset, splits), cold
#   2. mlpc run, a copy of the pipeline with only the sources and the feature view, cold
#   3. pandas   4. hand-written SQL
#   5. mlpc run again with nothing changed (every node a cache hit)
# "Cold" is a fresh --state folder for each run (removed in hyperfine's --prepare).
# Before timing, it checks that pandas and the SQL query compute the same values as
# mlpc's feature artifact, on the checked-in sample (examples/churn/data) and on the
# generated data (bench/features_compare.py: exact for integers, timestamps and nulls,
# 1e-9 for floats).
#
# Usage, from the repository root:
#   bench/features.sh                          # 1,000,000 customers, 5 runs each
#   CUSTOMERS=100000 RUNS=10 bench/features.sh
#
# Environment: CUSTOMERS (default 1000000), RUNS (timed runs of each cold command,
# default 5; the no-op rerun gets 4x as many), CARGO_TARGET_DIR (where cargo builds;
# default ./target), MLPC (use this binary instead of building one), PYTHON (a Python
# with bench/requirements.txt installed; default: the project's .venv, see bench/common.sh),
# KEEP (a folder to keep the generated data, pipelines and results in).
# Extra arguments are passed to hyperfine, e.g. `--export-markdown /tmp/f.md`.
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$PWD"
CUSTOMERS="${CUSTOMERS:-1000000}"
RUNS="${RUNS:-5}"

. bench/common.sh


PYTHON="$(command -v "$PYTHON")"
"$PYTHON" -c 'import duckdb, pandas, pyarrow, sys; print(f"python {sys.version.split()[0]}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}")' >&2

# The churn pipeline, and a copy with only the sources and the feature view (the
# unused view is a warning, not an error).
pipelines() {
  # The data stage: everything up to the splits (training is benchmarked by bench/train.sh).
  awk '/^[a-z]/ { skip = ($1 ~ /^(model|evaluate|register|serve|monitor)$/) }
       !skip { print }
       /^}/ { skip = 0 }' examples/churn/churn.mlp >"$1/churn.mlp"
  awk '/^[a-z]/ { skip = ($1 ~ /^(check|dataset|model|evaluate|register|serve|monitor)$/) }
       !skip { print }
       /^}/ { skip = 0 }' examples/churn/churn.mlp >"$1/features_only.mlp"
  for p in churn features_only; do
    if ! "$MLPC" check "$1/$p.mlp" >"$tmp/check.out" 2>&1; then
      cat "$tmp/check.out" >&2
      echo "error: \`mlpc check $1/$p.mlp\` failed" >&2
      exit 1
    fi
  done
}

# The feature view's offline artifact of a run, found through `mlpc runs show --json`.
feature_artifact() { # STATE RUN_ID
  "$MLPC" runs show "$2" --state "$1" --json | "$PYTHON" -c '
import json, sys
state = sys.argv[1]
run = json.load(sys.stdin)
sha = next(n["artifacts"]["data"] for n in run["nodes"] if n["id"] == "features:customer_features")
print(f"{state}/artifacts/{sha[:2]}/{sha}.parquet")' "$1"
}

run_id() { # JSON events of `mlpc run --json` on stdin
  "$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.readline())["run_id"])'
}

compare_all() { # DIR (holding churn.mlp, features_only.mlp and data/) LABEL
  local dir="$1" id artifact
  rm -rf "$dir/state"
  id="$("$MLPC" run "$dir/features_only.mlp" --state "$dir/state" --json | run_id)"
  artifact="$(feature_artifact "$dir/state" "$id")"
  "$PYTHON" bench/features_pandas.py "$dir/data/customers.csv" "$dir/data/orders.parquet" "$dir/pandas.parquet"
  "$PYTHON" bench/features_sql.py "$dir/data/customers.csv" "$dir/data/orders.parquet" "$dir/sql.parquet"
  echo "correctness, $2: mlpc's feature artifact vs pandas, then vs hand-written SQL" >&2
  "$PYTHON" bench/features_compare.py "$artifact" "$dir/pandas.parquet" >&2
  "$PYTHON" bench/features_compare.py "$artifact" "$dir/sql.parquet" >&2
}

# 1. Same values, on the checked-in sample.
mkdir -p "$tmp/sample"
cp -r examples/churn/data "$tmp/sample/"
pipelines "$tmp/sample"
compare_all "$tmp/sample" "examples/churn/data"

# 2. The generated data.
work="$tmp/churn"
mkdir -p "$work/data"
if [ ! -s "$work/data/orders.parquet" ] || [ "$(cat "$work/data/.customers" 2>/dev/null)" != "$CUSTOMERS" ]; then
  "$MLPC" example-data churn --customers "$CUSTOMERS" --orders-per-customer 5 --out "$work/data" >&2
  echo "$CUSTOMERS" >"$work/data/.customers"
fi
pipelines "$work"
compare_all "$work" "$CUSTOMERS customers"
orders="$("$PYTHON" -c 'import pyarrow.parquet as pq, sys; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)' "$work/data/orders.parquet")"
echo "data: $CUSTOMERS customers ($(du -h "$work/data/customers.csv" | cut -f1) CSV), $orders orders ($(du -h "$work/data/orders.parquet" | cut -f1) Parquet)" >&2
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')" >&2

q() { printf '%q' "$1"; }
in_csv="$(q "$work/data/customers.csv")"
in_pq="$(q "$work/data/orders.parquet")"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$tmp/cold.json" \
  --prepare "rm -rf $(q "$work/st_full")" \
  --command-name "mlpc run: full data stage" "$(q "$MLPC") run $(q "$work/churn.mlp") --state $(q "$work/st_full")" \
  --prepare "rm -rf $(q "$work/st_features")" \
  --command-name "mlpc run: sources + features" "$(q "$MLPC") run $(q "$work/features_only.mlp") --state $(q "$work/st_features")" \
  --prepare "true" \
  --command-name "pandas" "$(q "$PYTHON") bench/features_pandas.py $in_csv $in_pq $(q "$work/pandas.parquet")" \
  --prepare "true" \
  --command-name "hand-written SQL" "$(q "$PYTHON") bench/features_sql.py $in_csv $in_pq $(q "$work/sql.parquet")" \
  "$@"

# The no-op rerun: the full pipeline once, then again and again with nothing changed.
rm -rf "$work/st_noop"
"$MLPC" run "$work/churn.mlp" --state "$work/st_noop" >/dev/null
hyperfine -N --warmup 3 --runs "$((RUNS * 4))" --export-json "$tmp/noop.json" \
  --command-name "mlpc run: no-op rerun" "$MLPC run $work/churn.mlp --state $work/st_noop" "$@"
rerun="$("$MLPC" run "$work/churn.mlp" --state "$work/st_noop")"
if ! grep -q ' 0 ran, 7 cached' <<<"$rerun"; then
  echo "error: the rerun was not all cache hits" >&2
  exit 1
fi

# hyperfine's summary shows the mean; docs/benchmarks.md quotes the median.
"$PYTHON" - "$tmp/cold.json" "$tmp/noop.json" <<'PY'
import json, sys
rows = [r for f in sys.argv[1:] for r in json.load(open(f))["results"]]
med = {r["command"]: r["median"] for r in rows}
print("\nwhole-process wall time, median (min - max):")
for r in rows:
    unit, scale = ("ms", 1000) if r["median"] < 1 else ("s", 1)
    print(f"  {r['command']:<30} {r['median'] * scale:8.2f} {unit} ({r['min'] * scale:.2f} - {r['max'] * scale:.2f}), {len(r['times'])} runs")
full, feat = med["mlpc run: full data stage"], med["mlpc run: sources + features"]
pandas, sql = med["pandas"], med["hand-written SQL"]
print(f"\npandas / mlpc (sources + features): {pandas / feat:.2f}x   (target >= 10x)")
print(f"pandas / mlpc (full data stage):     {pandas / full:.2f}x")
print(f"mlpc (sources + features) / SQL:     {feat / sql:.2f}x   (target <= 1.2x)")
print(f"mlpc (full data stage) / SQL:        {full / sql:.2f}x")
print(f"no-op rerun: {med['mlpc run: no-op rerun'] * 1000:.0f} ms   (target <= 100 ms)")
PY
