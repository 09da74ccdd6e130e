#!/usr/bin/env bash
# The tracking store embedded (DuckDB in the state folder) against Postgres: registry
# operations and a no-op rerun of the churn example, each as a whole `mlpc` process, timed
# RUNS times after one warm-up; median, min and max in milliseconds.
#
#   models          mlpc models
#   models show     mlpc models show churn-predictor
#   approve         mlpc approve churn-predictor 2 --stage production --by userN (a new approver each time)
#   stage move      mlpc promote churn-predictor 1|2 --stage staging (alternating, each a move)
#   register        mlpc run FILE --node register:churn-predictor --force (the version known: found, rules applied)
#   no-op rerun     mlpc run FILE (every node cached)
#
# Usage, from the repository root:
#   bench/state.sh
#   RUNS=20 MLPC=/work/target/debug/mlpc bench/state.sh
# Environment: RUNS (default 10), MLPC (a built mlpc; default: a release build),
# MLPC_TEST_POSTGRES (a server to make a database on; default: scripts/services/postgres
# started for the run and stopped after).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"
if [ -z "${MLPC:-}" ]; then
  echo "building the release binaries" >&2
  cargo build --release --quiet -p mlpc --bins
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi
MLPC="$(cd "$(dirname "$MLPC")" && pwd)/$(basename "$MLPC")"

work="$(mktemp -d)"
started=""
cleanup() {
  [ -n "$started" ] && scripts/services/postgres stop
  rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${MLPC_TEST_POSTGRES:-}" ]; then
  services="$(scripts/services/postgres start)"
  eval "$services"
  started=1
fi
db="mlpc_bench_$$"
psql "$MLPC_TEST_POSTGRES" -qc "CREATE DATABASE $db"
postgres="${MLPC_TEST_POSTGRES%/*}/$db"
export XDG_CACHE_HOME="$work/cache"

cp -r examples/churn/data "$work/data"
program() {
  sed -e "s/gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)/$1/" \
    -e 's/^  cv     = 5$//' examples/churn/churn.mlp >"$work/churn.mlp"
}

# Median, min and max of RUNS timings of a command (ms); `{i}` in it becomes the run's number.
time_it() {
  local times=() i start
  for i in $(seq 0 "$RUNS"); do
    local cmd="${*//\{i\}/$i}"
    start=$(date +%s%N)
    eval "$cmd" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; echo "failed: $cmd" >&2; exit 1; }
    [ "$i" = 0 ] || times+=($((($(date +%s%N) - start) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d (%d – %d)", a[int((NR+1)/2)], a[1], a[NR]}'
}

declare -A result
for store in embedded postgres; do
  state="$work/state"
  [ "$store" = postgres ] && state="$postgres"
  # Two versions: logistic regression, then a small gradient boosting.
  program "logistic_regression()"
  "$MLPC" run "$work/churn.mlp" --state "$state" >/dev/null 2>&1
  program "gradient_boosting(trees = 10, depth = 3)"
  "$MLPC" run "$work/churn.mlp" --state "$state" >/dev/null 2>&1
  result[$store,models]=$(time_it "$MLPC" models --state "$state")
  result[$store,show]=$(time_it "$MLPC" models show churn-predictor --state "$state")
  result[$store,approve]=$(time_it "$MLPC" approve churn-predictor 2 --stage production --by "user-$store-{i}" --state "$state")
  result[$store,move]=$(time_it '"$MLPC" promote churn-predictor $(({i} % 2 + 1)) --stage staging --by bench --state "$state"')
  result[$store,register]=$(time_it "$MLPC" run "$work/churn.mlp" --node register:churn-predictor --force --state "$state")
  result[$store,rerun]=$(time_it "$MLPC" run "$work/churn.mlp" --state "$state")
  rm -rf "$work/cache"
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'); $RUNS runs each; $MLPC"
printf '| operation | embedded (ms) | Postgres (ms) |\n| --- | --- | --- |\n'
for op in models show approve move register rerun; do
  case $op in
    models) name="\`mlpc models\`" ;;
    show) name="\`mlpc models show\`" ;;
    approve) name="\`mlpc approve\` (a new approver)" ;;
    move) name="stage move (\`mlpc promote\`)" ;;
    register) name="register node rerun (version known)" ;;
    rerun) name="no-op rerun (10 nodes cached)" ;;
  esac
  echo "| $name | ${result[embedded,$op]} | ${result[postgres,$op]} |"
done
