#!/usr/bin/env bash
# Benchmarks `mlpc drift` against Evidently's Report([DataDriftPreset()]) (pandas) on the same two Parquet
# files: churn customers from `mlpc example-data churn` (reference) and `--drift` (a shifted current sample),
# 15 feature columns per customer (bench/drift_evidently.py prepare), at 100,000 and 1,000,000 rows, plus a
# 1,000-row reference against 100,000 current rows (the hypothesis tests: KS, chi-square, Z).
# For each pair it checks that both pick the same test per column with the same score (1e-9) and drift share,
# then times both as whole processes (hyperfine) and their in-process compute (reading excluded).
#
# Usage, from the repository root:
#   bench/drift.sh                        # 100k and 1M rows, 3 runs each
#   SIZES="100000" RUNS=5 bench/drift.sh
#
# Environment: SIZES (customers, default "100000 1000000"), RUNS (default 3), CARGO_TARGET_DIR, MLPC (use this
# binary), PYTHON (a Python with evidently 0.7, pandas < 3 and pyarrow; default: a virtual environment made
# under VENV, default a temporary folder, with pip), KEEP (a folder to keep data and results in).
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$PWD"
SIZES="${SIZES:-100000 1000000}"
RUNS="${RUNS:-3}"

. bench/common.sh


needs='import evidently, pandas, pyarrow'
if [ -z "${PYTHON:-}" ]; then
  venv="${VENV:-$tmp/venv}"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "$needs" 2>/dev/null; then
    echo "installing evidently into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "evidently==0.7.23" "pandas<3" pyarrow
  fi
  PYTHON="$venv/bin/python"
fi
"$PYTHON" -c "$needs"'; print(f"evidently {evidently.__version__}, pandas {pandas.__version__}")' >&2
ev="$repo/bench/drift_evidently.py"

pair() { # name reference current
  local name="$1" ref="$2" cur="$3" rc=0
  "$MLPC" drift "$ref" "$cur" --json >"$tmp/$name.mlpc.json" || rc=$?
  [ "$rc" -le 1 ] || { echo "mlpc drift failed on $name" >&2; exit 2; }
  "$PYTHON" "$ev" run "$ref" "$cur" "$tmp/$name.evidently.json"
  echo "== $name" >&2
  "$PYTHON" "$ev" compare "$tmp/$name.mlpc.json" "$tmp/$name.evidently.json"
  hyperfine --runs "$RUNS" -i --export-json "$tmp/$name.hyperfine.json" -n "mlpc drift" \
    "$MLPC drift $ref $cur" -n "evidently DataDriftPreset" "$PYTHON $ev run $ref $cur $tmp/$name.ev-timed.json" >&2
  "$PYTHON" - "$tmp/$name" <<'PY'
import json, sys
base = sys.argv[1]
h = {r["command"]: r["median"] for r in json.load(open(base + ".hyperfine.json"))["results"]}
m, e = json.load(open(base + ".mlpc.json")), json.load(open(base + ".evidently.json"))
pm, pe = h["mlpc drift"], h["evidently DataDriftPreset"]
cm, ce = m["compute_ms"] / 1000, e["compute_s"]
print(f"{base.rsplit('/', 1)[1]}: process mlpc {pm:.3f} s, Evidently {pe:.2f} s ({pe / pm:.0f}x); "
      f"compute mlpc {cm * 1000:.0f} ms, Evidently {ce:.2f} s ({ce / cm:.0f}x)")
PY
}

for n in $SIZES; do
  for side in ref cur; do
    flag=""; seed=42
    [ "$side" = cur ] && { flag="--drift"; seed=7; }
    "$MLPC" example-data churn --customers "$n" --seed "$seed" $flag --out "$tmp/$side-$n" >/dev/null
    "$PYTHON" "$ev" prepare "$tmp/$side-$n/customers.csv" "$tmp/$side-$n/orders.parquet" "$tmp/$side-$n.parquet"
  done
  pair "rows-$n" "$tmp/ref-$n.parquet" "$tmp/cur-$n.parquet"
done
first="${SIZES%% *}"
"$PYTHON" "$ev" prepare "$tmp/ref-$first/customers.csv" "$tmp/ref-$first/orders.parquet" "$tmp/ref-1000.parquet" --rows 1000
pair "ref-1000-vs-$first" "$tmp/ref-1000.parquet" "$tmp/cur-$first.parquet"
