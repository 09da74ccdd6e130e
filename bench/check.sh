#!/usr/bin/env bash
# Benchmarks `mlpc check` as a whole process (start-up, reading, parsing, checking,
# plan lowering, printing) with hyperfine:
#   1. `mlpc check examples/`
#   2. `mlpc check` on a generated program of about 100,000 lines (bench/gen_program.py)
#
# Usage, from the repository root:
#   bench/check.sh                # 100,000 lines, 10 runs each
#   LINES=20000 RUNS=20 bench/check.sh
#
# Environment: LINES (generated program size, default 100000), RUNS (counted runs,
# default 10), CARGO_TARGET_DIR (where cargo builds; default ./target), MLPC (use this
# binary instead of building one). Extra arguments are passed to hyperfine, e.g.
# `bench/check.sh --export-markdown /tmp/check.md`.
set -euo pipefail

cd "$(dirname "$0")/.."
LINES="${LINES:-100000}"
RUNS="${RUNS:-10}"

. bench/common.sh

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
program="$tmp/generated.mlp"
python3 bench/gen_program.py "$LINES" "$program"
echo "generated $(wc -l <"$program") lines, $(wc -c <"$program") bytes: $program" >&2

# Both must check clean: a benchmark of the error path would measure something else.
for target in examples/ "$program"; do
  if ! "$MLPC" check --format short "$target" >"$tmp/out" 2>&1; then
    cat "$tmp/out" >&2
    echo "error: \`mlpc check $target\` did not check clean" >&2
    exit 1
  fi
done

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')" >&2
hyperfine --warmup 2 --runs "$RUNS" -N --export-json "$tmp/results.json" \
  --command-name "mlpc check examples/" "$MLPC check examples/" \
  --command-name "mlpc check ($LINES-line program)" "$MLPC check $program" \
  "$@"

# hyperfine's summary shows the mean; docs/benchmarks.md quotes the median.
python3 - "$tmp/results.json" <<'PY'
import json, sys
print("\nwhole-process wall time, median (min - max):")
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"  {r['command']}: {r['median'] * 1000:.1f} ms ({r['min'] * 1000:.1f} - {r['max'] * 1000:.1f} ms), {len(r['times'])} runs")
PY
