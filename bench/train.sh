#!/usr/bin/env bash
# Benchmarks mlpc's trainers against scikit-learn on the churn example's data, at 100,000
# and 1,000,000 customers: fit time and test AUC of
#   logistic_regression  vs LogisticRegression
#   gradient_boosting    vs HistGradientBoostingClassifier (early stopping off, and no
#                           leaf cap: max_leaf_nodes=None, so depth alone bounds both)
#   random_forest        vs RandomForestClassifier
# with the same parameters, on the same train/test split (mlpc's split artifacts are handed
# to bench/train_sklearn.py) and the same thread count (THREADS, default 2; mlpc is run
# with RAYON_NUM_THREADS, scikit-learn with n_jobs / OMP_NUM_THREADS).
# mlpc's fit time is the model node's `fit_seconds` (preprocessing + fit, in process; the
# data read and the ONNX export are not in it); scikit-learn's is the same span.
#
# Usage, from the repository root:
#   bench/train.sh                         # 100000 and 1000000 customers
#   SIZES=100000 RUNS=3 bench/train.sh
# Environment: SIZES, RUNS (fits of each, the median is reported; default 3), THREADS,
# MLPC (a built mlpc binary), PYTHON (with scikit-learn, pandas, pyarrow), KEEP (a folder
# to keep the data in).
set -euo pipefail
cd "$(dirname "$0")/.."
# The peers' Python: PYTHON when set, else the project's .venv with bench/requirements.txt.
[ -n "${PYTHON:-}" ] || { scripts/setup --bench >&2; PYTHON="$PWD/.venv/bin/python"; }
SIZES="${SIZES:-100000 1000000}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-2}"
export THREADS OMP_NUM_THREADS="$THREADS" RAYON_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
if [ -z "${MLPC:-}" ]; then
  echo "building the release binaries" >&2
  cargo build --release --quiet --bins
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi
"$PYTHON" -c 'import sklearn, pandas, pyarrow' || { echo "needs scikit-learn, pandas and pyarrow: scripts/setup --bench" >&2; exit 2; }
if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP"; tmp="$(cd "$KEEP" && pwd)"; else tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT; fi

declare -A PARAMS=(
  [logistic_regression]='{"c": 1.0, "max_iter": 200, "tol": 0.0001}'
  [gradient_boosting]='{"trees": 100, "depth": 6, "learning_rate": 0.1, "max_bins": 255, "min_leaf": 20, "l2": 0.0, "seed": 42}'
  [random_forest]='{"trees": 50, "depth": 12, "min_leaf": 1, "max_features": 0.5, "seed": 42}'
)
# The churn pipeline up to evaluation, training ALGORITHM(PARAMS) on the CPU, no cv.
pipeline() { # ALGORITHM PARAMS_JSON OUT
  local args
  args="$("$PYTHON" -c 'import json, sys; print(", ".join(f"{k} = {json.dumps(v)}" for k, v in json.loads(sys.argv[1]).items()))' "$2")"
  awk -v model="model churn_model = $1($args) {" '
    /^[a-z]/ { skip = ($1 ~ /^(register|serve|monitor)$/) }
    /^model / { print model; next }
    /^  (cv|device) / { next }
    /^  metrics / { print "  metrics = [auc]"; next }
    !skip { print }
    /^}/ { skip = 0 }' examples/churn/churn.mlp >"$3"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '| customers | train rows | algorithm | mlpc fit (s) | scikit-learn fit (s) | time ratio | mlpc AUC | scikit-learn AUC | AUC diff |\n'
printf '|---:|---:|---|---:|---:|---:|---:|---:|---:|\n'
for n in $SIZES; do
  data="$tmp/data-$n"
  if [ ! -s "$data/orders.parquet" ]; then
    "$MLPC" example-data churn --customers "$n" --orders-per-customer 5 --out "$data" >&2
  fi
  for alg in logistic_regression gradient_boosting random_forest; do
    dir="$tmp/$alg-$n"
    mkdir -p "$dir"
    ln -sfn "$data" "$dir/data"
    pipeline "$alg" "${PARAMS[$alg]}" "$dir/churn.mlp"
    ours=(); theirs=(); auc=""; sk_auc=""
    for r in $(seq "$RUNS"); do
      rm -rf "$dir/state"
      "$MLPC" run "$dir/churn.mlp" --state "$dir/state" --json >"$dir/run.json" || { cat "$dir/run.json" >&2; exit 1; }
      read -r fit auc train test rows < <("$MLPC" runs show 1 --state "$dir/state" --json | "$PYTHON" -c '
import json, sys
state = sys.argv[1]
run = json.load(sys.stdin)
node = {n["id"]: n for n in run["nodes"]}
path = lambda i: (lambda s: f"{state}/artifacts/{s[:2]}/{s}.parquet")(node[i]["artifacts"]["data"])
m = node["model:churn_model"]["metrics"]
print(m["fit_seconds"], node["evaluate:churn_model@churn_data.test"]["metrics"]["auc"],
      path("split:churn_data.train"), path("split:churn_data.test"), int(m["train_rows"]))' "$dir/state")
      ours+=("$fit")
      out="$("$PYTHON" bench/train_sklearn.py "$alg" "${PARAMS[$alg]}" "$train" "$test")"
      theirs+=("$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["fit_seconds"])' "$out")")
      sk_auc="$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["auc"])' "$out")"
    done
    a="$(printf '%s\n' "${ours[@]}" | median)"; b="$(printf '%s\n' "${theirs[@]}" | median)"
    "$PYTHON" -c 'import sys; n, rows, alg, a, b, x, y = sys.argv[1:]; a, b, x, y = map(float, (a, b, x, y))
print(f"| {int(n):,} | {int(rows):,} | {alg} | {a:.2f} | {b:.2f} | {a / b:.2f} | {x:.4f} | {y:.4f} | {x - y:+.4f} |")' \
      "$n" "$rows" "$alg" "$a" "$b" "$auc" "$sk_auc"
  done
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'); threads: $THREADS; runs: $RUNS (median)" >&2
