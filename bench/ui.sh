#!/usr/bin/env bash
# Server time of each `mlpc ui` page on a large state: the churn example run twice for
# real, then grown to RUNS runs and VERSIONS versions (bench/ui_state.py); each page asked
# REQUESTS times over loopback after a warm-up, median and max of curl's total time.
#
# Usage, from the repository root:
#   bench/ui.sh
#   RUNS=10000 VERSIONS=1000 REQUESTS=20 bench/ui.sh
# Environment: MLPC (a built mlpc binary; default: a release build), PYTHON (with duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${PYTHON:-}" ] || { scripts/setup --bench >&2; PYTHON="$PWD/.venv/bin/python"; }
RUNS="${RUNS:-10000}"
VERSIONS="${VERSIONS:-1000}"
REQUESTS="${REQUESTS:-20}"
if [ -z "${MLPC:-}" ]; then
  echo "building the release binaries" >&2
  cargo build --release --quiet --bins
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cp -r examples/churn/data "$work/data"
sed -e 's/gradient_boosting(trees = 200, depth = 6, learning_rate = 0.1)/logistic_regression()/' \
  -e 's/^  cv     = 5$//' examples/churn/churn.mlp > "$work/churn.mlp"
"$MLPC" run "$work/churn.mlp" --state "$work/state" >/dev/null 2>&1
"$MLPC" run "$work/churn.mlp" --state "$work/state" >/dev/null 2>&1
echo "state: $("$PYTHON" bench/ui_state.py "$work/state" "$RUNS" "$VERSIONS") (runs, versions)"

setsid "$MLPC" ui "$work/churn.mlp" --state "$work/state" --addr 127.0.0.1:0 >"$work/ui.out" 2>"$work/ui.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "ui on" "$work/ui.out" 2>/dev/null && break; sleep 0.1; done
base="$(sed -n 's|^ui on \(http://[^/]*\)/ui/$|\1|p' "$work/ui.out")"
[ -n "$base" ] || { echo "mlpc ui did not start:" >&2; cat "$work/ui.err" >&2; exit 1; }

last="$(curl -sf "$base/ui/runs" | grep -o '/ui/runs/[0-9]*' | head -1 | sed 's|.*/||')"
node="$(curl -sf "$base/ui/" | grep -o '/ui/nodes/[^"]*' | head -1)"
printf '%-46s %9s %9s %9s\n' "page" "median" "max" "bytes"
for path in /ui/ /ui/runs "/ui/runs?status=failed" "/ui/runs/$last" "/ui/compare?run=$((last - 1))&run=$last" \
  "/ui/compare?run=$((last - 2))&run=$((last - 1))&run=$last" /ui/registry /ui/registry/churn-predictor /ui/serving "$node"; do
  curl -sf -o /dev/null "$base$path"
  times=()
  for _ in $(seq 1 "$REQUESTS"); do
    times+=("$(curl -sf -o "$work/page" -w '%{time_total}' "$base$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v path="$path" -v bytes="$(wc -c <"$work/page")" '
    { t[NR] = $1 } END { printf "%-46s %7.1fms %7.1fms %9d\n", path, t[int((NR + 1) / 2)] * 1000, t[NR] * 1000, bytes }'
done
