# Shared by the benchmark scripts (sourced, not run): hyperfine, and the release binary.

if ! command -v hyperfine >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "hyperfine is missing; installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
  else
    echo "hyperfine is missing. Install it first, e.g. one of:" >&2
    echo "  sudo apt-get install hyperfine" >&2
    echo "  cargo install hyperfine --locked" >&2
    exit 2
  fi
fi

if [ -z "${MLPC:-}" ]; then
  echo "building the release binary" >&2
  cargo build --release --quiet
  MLPC="${CARGO_TARGET_DIR:-target}/release/mlpc"
fi
MLPC="$(cd "$(dirname "$MLPC")" && pwd)/$(basename "$MLPC")"
