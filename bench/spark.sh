#!/usr/bin/env bash
# The churn program's data plane (sources, check, feature view, dataset, splits) at
# CUSTOMERS customers (default 1,000,000; about 5 orders each), as whole `mlpc run`
# processes: on DuckDB in the process, and on a local Spark Connect server (`local[2]`,
# scripts/services/spark, started here unless SPARK_REMOTE names one). Fresh state each run.
#
# Usage, from the repository root:
#   bench/spark.sh                              # release binary, 1,000,000 customers, 1 run each
#   MLPC=path/to/mlpc CUSTOMERS=100000 RUNS=3 bench/spark.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CUSTOMERS="${CUSTOMERS:-1000000}"
RUNS="${RUNS:-1}"
if [ -z "${MLPC:-}" ]; then
  cargo build --release --quiet --bin mlpc --bin mlpc-runtime
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi
tmp="$(mktemp -d)"
if [ -z "${SPARK_REMOTE:-}" ]; then
  eval "$(scripts/services/spark start)"
  SPARK_REMOTE="$MLPC_TEST_SPARK"
  trap 'scripts/services/spark stop; rm -rf "$tmp"' EXIT
else
  trap 'rm -rf "$tmp"' EXIT
fi
"$MLPC" example-data churn --customers "$CUSTOMERS" --out "$tmp/data" >&2
# The program up to its model: what the engine runs.
sed '/^model churn_model/,$d' examples/churn/churn.mlp >"$tmp/churn.mlp"
echo "$CUSTOMERS customers, $(du -sh "$tmp/data" | cut -f1) of data; $RUNS run(s) each; $("$MLPC" --version)" >&2
for engine in duckdb spark; do
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$tmp/state"
    extra=(); [ "$engine" = spark ] && extra=(--spark-remote "$SPARK_REMOTE")
    start=$(date +%s.%N)
    "$MLPC" run "$tmp/churn.mlp" --state "$tmp/state" --engine "$engine" "${extra[@]}" >"$tmp/$engine.log" 2>&1 \
      || { cat "$tmp/$engine.log" >&2; exit 1; }
    end=$(date +%s.%N)
    printf '%s run %d: %.1f s\n' "$engine" "$i" "$(echo "$end - $start" | bc)"
  done
  grep -E "^\s+ran" "$tmp/$engine.log" >&2 || true
done
