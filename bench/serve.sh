#!/usr/bin/env bash
# Benchmarks `mlpc serve` against what a Python team would run instead — FastAPI +
# onnxruntime under uvicorn with 1 and 2 workers (bench/serve_fastapi.py), and KServe's own
# Python ModelServer wrapping onnxruntime (bench/serve_kserve.py) — serving the same
# exported ONNX model of the churn example, one JSON record per request, on one machine,
# with wrk at CONNECTIONS and at one connection; and ONNX Runtime's raw in-process
# single-row time (bench/serve_ort_raw.py) as the floor.
#
# Usage, from the repository root:
#   bench/serve.sh
#   CONNECTIONS=16 DURATION=10s bench/serve.sh
# Environment: CONNECTIONS (default 16), THREADS (wrk threads, default 2), DURATION
# (default 10s), MLPC (a built mlpc binary), PYTHON (with fastapi, uvicorn, onnxruntime, kserve).
set -euo pipefail
cd "$(dirname "$0")/.."
# The peers' Python: PYTHON when set, else the project's .venv with bench/requirements.txt.
[ -n "${PYTHON:-}" ] || { scripts/setup --bench >&2; PYTHON="$PWD/.venv/bin/python"; }
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-10s}"
if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk is missing: apt-get install wrk" >&2
  exit 2
fi
if ! "$PYTHON" -c "import fastapi, uvicorn, onnxruntime, kserve" >/dev/null 2>&1; then
  echo "the Python side needs fastapi, uvicorn, onnxruntime and kserve: scripts/setup --bench" >&2
  exit 2
fi
if [ -z "${MLPC:-}" ]; then
  echo "building the release binaries" >&2
  cargo build --release --quiet --bins
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The churn example as it is (gradient boosting, 200 trees), without cross-validation.
cp -r examples/churn/data "$work/data"
sed 's/^  cv     = 5$//' examples/churn/churn.mlp > "$work/churn.mlp"
"$MLPC" run "$work/churn.mlp" --state "$work/state" >/dev/null 2>&1
"$MLPC" promote churn-predictor 1 --stage production --by bench --state "$work/state" >/dev/null
sha="$("$MLPC" models show churn-predictor --state "$work/state" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["artifact_sha256"])')"
model="$work/state/artifacts/${sha:0:2}/$sha.onnx"

record='{"total_purchases": 3, "avg_order_value": 40.5, "spend_90d": 80.0, "days_since_last_purchase": 12, "spend_per_ticket": 20.0, "plan": "basic", "region": "north", "monthly_spend": 60.0, "support_tickets": 2, "tenure_months": 14}'
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$record]]
LUA

# Starts a command in its own process group and waits until its port answers.
start() {
  local port="$1"; shift
  setsid "$@" >"$work/server-$port.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return; fi
    sleep 0.1
  done
  echo "the server on port $port did not start:" >&2
  cat "$work/server-$port.log" >&2
  exit 1
}

# wrk's requests/s, p50, p99 and non-2xx answers at CONNECTIONS and at one connection,
# for a URL, its wrk script and the body that script sends (checked once with curl).
measure() {
  local url="$1" lua="$2" body="$3" c t
  curl -sf -X POST -H 'Content-Type: application/json' -d "$body" "$url" >/dev/null
  for c in "$CONNECTIONS" 1; do
    t=$(( THREADS < c ? THREADS : c ))
    wrk -t"$t" -c"$c" -d2s -s "$lua" "$url" >/dev/null   # warm-up
    wrk -t"$t" -c"$c" -d"$DURATION" --latency -s "$lua" "$url" >"$work/wrk.txt"
    printf '%s %s %s %s ' \
      "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")" \
      "$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")" \
      "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")" \
      "$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt" | grep . || echo 0)"
  done
  echo
}

# One server at a time, stopped before the next starts.
stop() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  pids=()
}

cat > "$work/kserve.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"instances": [$record]}]]
LUA

results=()
start 18080 "$MLPC" serve "$work/churn.mlp" --state "$work/state" --addr 127.0.0.1:18080
results+=("mlpc serve|$(measure http://127.0.0.1:18080/v1/models/churn-predictor/predict "$work/post.lua" "$record")")
stop
for workers in 1 2; do
  MODEL="$model" start 18081 "$PYTHON" -m uvicorn serve_fastapi:app --app-dir bench --port 18081 --log-level warning --workers "$workers"
  results+=("FastAPI + onnxruntime, $workers worker(s)|$(measure http://127.0.0.1:18081/predict "$work/post.lua" "$record")")
  stop
done
MODEL="$model" PORT=18082 start 18082 "$PYTHON" bench/serve_kserve.py
results+=("KServe ModelServer + onnxruntime|$(measure http://127.0.0.1:18082/v1/models/churn:predict "$work/kserve.lua" "{\"instances\": [$record]}")")
stop

read -r raw_p50 raw_p99 <<<"$("$PYTHON" bench/serve_ort_raw.py "$model" "$record")"

echo
echo "one record per request, wrk -d$DURATION, $(nproc) cores; at $CONNECTIONS connections (-t$THREADS) and at 1 (-t1)"
printf '%-40s %11s %9s %9s %7s | %11s %9s %9s %7s\n' "server" "req/s" "p50" "p99" "non-2xx" "req/s (1)" "p50 (1)" "p99 (1)" "non-2xx"
for r in "${results[@]}"; do
  # shellcheck disable=SC2086
  printf '%-40s %11s %9s %9s %7s | %11s %9s %9s %7s\n' "${r%%|*}" ${r#*|}
done
mlpc_rps="$(echo "${results[0]#*|}" | awk '{print $1}')"
for r in "${results[@]:1}"; do
  peer_rps="$(echo "${r#*|}" | awk '{print $1}')"
  "$PYTHON" -c "print(f'mlpc serve / ${r%%|*}: {float(\"$mlpc_rps\") / float(\"$peer_rps\"):.1f}x requests/s at $CONNECTIONS connections')"
done
echo "onnxruntime in process, one row: p50 ${raw_p50} us, p99 ${raw_p99} us"
