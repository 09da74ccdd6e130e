#!/usr/bin/env bash
# The churn lifecycle under `mlpc daemon`, end to end, on a scratch copy of the example
# whose clocks run fast (its daily cron set to the coming minute, monitor every 5 s, canary
# steps of 10 s; the rest of churn.mlp as written, alert thresholds included):
#
#   1. the daemon's cron tick runs the pipeline: v1 trained, registered, in staging;
#   2. a person approves v1 (admin API): production, served at once (nothing to canary);
#   3. a new quarter of labelled data lands (the drifted sample) and production traffic
#      shifts with it: the drifted customers are sent by key with their new account values;
#   4. the monitor's drift alerts fire; `drift_share() > 30%` retrains churn_model: v2;
#   5. a person approves v2: the canary moves traffic to it step by step under live traffic
#      and promotes it when the gates hold;
#   6. with v2 in production, the monitor's reference is v2's training data: the drift
#      alerts clear.
#
# Usage: examples/churn/watch.sh   (MLPC=path/to/mlpc; WORK=DIR keeps the copy there)
# Exits non-zero, with the daemon's log, when a step does not happen in time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mlpc="${MLPC:-mlpc}"
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
state="$work/state"
token="watch-$RANDOM$RANDOM"
daemon=""
traffic=""

say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  say "FAILED: $*"
  echo "--- daemon log ($work/daemon.log), last lines:"
  tail -n 40 "$work/daemon.log" || true
  exit 1
}
stop() {
  set +e
  [ -n "$traffic" ] && { kill "$traffic"; wait "$traffic"; } 2>/dev/null
  [ -n "$daemon" ] && { kill "$daemon"; wait "$daemon"; } 2>/dev/null
  return 0
}
trap stop EXIT
# A field of a JSON document on stdin, by a Python expression over `d`.
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# Polls `$1` (a command) every half second until it succeeds, for at most $2 seconds.
wait_for() {
  local deadline=$((SECONDS + $2))
  until eval "$1" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
http() { curl -sf --max-time 20 "$@"; }
admin() { http -H "Authorization: Bearer $token" "$api/admin/$1" "${@:2}"; }
post_admin() { admin "$1" -X POST -H 'content-type: application/json' -d "$2"; }
status() { admin status; }
canary() { http "$serve/v1/models/churn-predictor/canary"; }
# One line for the canary's state, from `GET .../canary` on stdin.
describe_canary='
import json, sys
c = json.load(sys.stdin)["canary"] or {}
if not c:
    print("none")
elif c["phase"] != "running":
    print("%s: v%d serves (%s)" % (c["phase"], c["candidate"] if c["phase"] == "promoted" else c["stable"],
                                  (c["last_verdict"] or {}).get("reason")))
else:
    verdict = c["last_verdict"]["reason"] if c["last_verdict"] else "none yet"
    print("%s, step %d of %d: v%d takes %.0f%% of requests (last verdict: %s)" % (
        c["phase"], c["step"], len(c["steps"]), c["candidate"], 100 * c["weights"]["candidate"], verdict))
'

# Rows of the drifted sample as prediction requests: the key and the account columns, the
# features filled by the server from its online table.
requests() {
  tail -n +2 "$work/drifted/customers.csv" | while IFS=, read -r id _signup plan region spend tickets tenure _rest; do
    printf '{"customer_id": %s, "plan": "%s", "region": "%s", "monthly_spend": %s, "support_tickets": %s, "tenure_months": %s}\n' \
      "$id" "$plan" "$region" "$spend" "$tickets" "$tenure"
  done
}
# Sends the first $1 rows, ten per request.
send() {
  head -n "$1" "$work/requests.jsonl" | paste -d, - - - - - - - - - - | while read -r batch; do
    http -X POST "$serve/v1/models/churn-predictor/predict" -H 'content-type: application/json' \
      -d "{\"instances\": [$batch]}" >/dev/null || echo "request failed" >>"$work/failures"
  done
}
# One row per request, round and round, until killed.
keep_sending() {
  while :; do
    while read -r row; do
      http -X POST "$serve/v1/models/churn-predictor/predict" -H 'content-type: application/json' \
        -d "$row" >/dev/null || echo "request failed" >>"$work/failures"
    done <"$work/requests.jsonl"
  done
}

say "copy of the example in $work"
cp -r "$here/data" "$work/"
# The daily schedule fires at the coming minute (the one after, this late in a minute), so
# the one scheduled run is predictable and nothing else is scheduled while the script runs.
at=$(( $(date +%S | sed 's/^0//') < 50 ? 1 : 2 ))
cron="$(date -d "+$at minute" '+%-M %-H') * * *"
sed -e "s/schedule = \"0 2 \\* \\* \\*\"/schedule = \"$cron\"/" \
  -e 's/interval = 30m/interval = 10s\n    min_requests = 20/' \
  -e 's/every     = 1h/every     = 5s/' -e 's/window    = 24h/window    = 1h/' \
  "$here/churn.mlp" >"$work/churn.mlp"
"$mlpc" example-data churn --drift --seed 7 --out "$work/drifted" >/dev/null
requests >"$work/requests.jsonl"
: >"$work/failures"

MLPC_ADMIN_TOKEN="$token" "$mlpc" daemon "$work/churn.mlp" --state "$state" \
  --addr 127.0.0.1:0 --api-addr 127.0.0.1:0 --min-window 500 >"$work/daemon.out" 2>"$work/daemon.log" &
daemon=$!
wait_for 'grep -q "^api on" "$work/daemon.out"' 60 || die "the daemon did not start"
serve="$(sed -n 's/^serving on //p' "$work/daemon.out")"
api="$(sed -n 's/^api on //p' "$work/daemon.out")"
say "daemon up: serving on $serve, admin API and monitor metrics on $api"

for edit in "schedule = \"$cron\"" "interval = 10s" "min_requests = 20" "every     = 5s" "window    = 1h"; do
  grep -qF "$edit" "$work/churn.mlp" || die "the copy of churn.mlp lacks \`$edit\`: did the example's layout change?"
done
say "1. waiting for the cron tick (schedule \"$cron\")"
wait_for 'status | field "d[\"last_run\"] or \"\"" | grep -q "^run 1 "' 150 || die "no scheduled run"
say "   $(status | field 'd["last_run"]')"
"$mlpc" models --state "$state" | sed 's/^/   /'

say "2. approving v1 for production (POST /admin/approve)"
post_admin approve '{"name": "churn-predictor", "version": 1, "stage": "production", "by": "watch.sh"}' |
  field 'd["rules"]' | sed 's/^/   /'
wait_for 'http "$serve/v2/models/churn-predictor/ready"' 30 || die "v1 is not served"
say "   serving v$(canary | field 'd["serving"]')"

say "3. a new quarter of labelled data lands in data/, and traffic shifts: 500 drifted customers by key"
cp "$work/drifted/customers.csv" "$work/drifted/orders.parquet" "$work/data/"
send 500
say "4. waiting for the monitor (every 5 s, window 1 h)"
wait_for 'grep -q "alert: .*drift_share" "$work/daemon.log"' 60 || die "no drift_share alert"
grep "alert:" "$work/daemon.log" | sed 's/^.*alert: /   alert: /'
{ http "$api/metrics" || die "no monitor metrics"; } |
  grep -E '^mlpc_monitor_drift_share|^mlpc_monitor_column_score\{column="(monthly_spend|plan|support_tickets|spend_per_ticket)"' |
  sed 's/^/   /' || true
wait_for 'status | field "d[\"last_run\"] or \"\"" | grep -q "^run 2 "' 120 || die "no retraining run"
say "   $(status | field 'd["last_run"]')"
"$mlpc" models --state "$state" | sed 's/^/   /'

# Until v2 holds production, the monitor measures against v1's training data: still drifted.
! grep -q "alert cleared" "$work/daemon.log" || die "the drift alerts cleared while v1 was in production"
say "5. approving v2 for production: the canary starts, under one request at a time"
keep_sending &
traffic=$!
post_admin approve '{"name": "churn-predictor", "version": 2, "stage": "production", "by": "watch.sh"}' |
  field 'd["rules"]' | sed 's/^/   /'
wait_for 'canary | field "d[\"canary\"][\"candidate\"]" | grep -qx 2' 30 || die "no canary for v2"
last=""
deadline=$((SECONDS + 180))
while :; do
  now="$(canary | python3 -c "$describe_canary")" || die "cannot read the canary's state"
  [ "$now" != "$last" ] && say "   canary: $now"
  last="$now"
  case "$now" in running*) ;; *) break ;; esac
  [ $SECONDS -lt $deadline ] || die "the canary did not finish"
  sleep 1
done
[[ "$last" == promoted* ]] || die "the canary ended $last"
say "   serving v$(canary | field 'd["serving"]')"

say "6. v2 holds production: the monitor measures its requests against its training data, which they match"
wait_for 'grep -q "alert cleared: drift_share" "$work/daemon.log"' 90 || die "the drift alert did not clear"
grep "alert cleared:" "$work/daemon.log" | sed 's/^.*alert cleared: /   alert cleared: /'
{ kill "$traffic"; wait "$traffic"; } 2>/dev/null || true
traffic=""
say "   failed requests during the lifecycle: $(wc -l <"$work/failures")"
[ ! -s "$work/failures" ] || die "requests failed during the lifecycle"

say "the record:"
"$mlpc" runs --state "$state" | sed 's/^/   /'
"$mlpc" audit --state "$state" | tail -n 8 | sed 's/^/   /'
kill "$daemon" && wait "$daemon" || die "the daemon did not stop cleanly on SIGTERM"
daemon=""
say "daemon stopped cleanly"
