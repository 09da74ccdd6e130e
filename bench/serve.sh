#!/usr/bin/env bash
# Benchmarks `mlpc serve` against the usual Python pattern (FastAPI + onnxruntime under
# uvicorn, bench/serve_fastapi.py) serving the same exported ONNX model of the churn
# example, one JSON record per request, on one machine, with wrk at fixed concurrency; and
# ONNX Runtime's raw in-process single-row time (bench/serve_ort_raw.py) as the floor.
#
# Usage, from the repository root:
#   bench/serve.sh
#   CONNECTIONS=16 DURATION=10s bench/serve.sh
# Environment: CONNECTIONS (default 16), THREADS (wrk threads, default 2), DURATION
# (default 10s), MLPC (a built mlpc binary), PYTHON (with fastapi, uvicorn, onnxruntime).
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
if ! "$PYTHON" -c "import fastapi, uvicorn, onnxruntime" >/dev/null 2>&1; then
  echo "the Python side needs fastapi, uvicorn and onnxruntime: scripts/setup --bench" >&2
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
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then return; fi
    sleep 0.1
  done
  echo "the server on port $port did not start:" >&2
  cat "$work/server-$port.log" >&2
  exit 1
}

# wrk's requests/s, p50 and p99 (ms).
measure() {
  local url="$1"
  curl -sf -X POST -H 'Content-Type: application/json' -d "$record" "$url" >/dev/null
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -s "$work/post.lua" "$url" >/dev/null   # warm-up
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$work/post.lua" "$url" >"$work/wrk.txt"
  local rps p50 p99 errors
  rps="$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")"
  p50="$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
  errors="$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt")"
  echo "$rps $p50 $p99 ${errors:-0}"
}

start 18080 "$MLPC" serve "$work/churn.mlp" --state "$work/state" --addr 127.0.0.1:18080
read -r m_rps m_p50 m_p99 m_err <<<"$(measure http://127.0.0.1:18080/v1/models/churn-predictor/predict)"
kill -TERM -- "-${pids[0]}"; pids=()

MODEL="$model" start 18081 "$PYTHON" -m uvicorn serve_fastapi:app --app-dir bench --port 18081 --log-level warning
read -r f_rps f_p50 f_p99 f_err <<<"$(measure http://127.0.0.1:18081/predict)"

read -r raw_p50 raw_p99 <<<"$("$PYTHON" bench/serve_ort_raw.py "$model" "$record")"

echo
echo "one record per request, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores"
printf '%-34s %12s %10s %10s %8s\n' "server" "requests/s" "p50" "p99" "non-2xx"
printf '%-34s %12s %10s %10s %8s\n' "mlpc serve" "$m_rps" "$m_p50" "$m_p99" "$m_err"
printf '%-34s %12s %10s %10s %8s\n' "FastAPI + onnxruntime (uvicorn)" "$f_rps" "$f_p50" "$f_p99" "$f_err"
"$PYTHON" -c "print(f'mlpc serve / FastAPI requests/s: {float(\"$m_rps\") / float(\"$f_rps\"):.1f}x')"
echo "onnxruntime in process, one row: p50 ${raw_p50} us, p99 ${raw_p99} us"
