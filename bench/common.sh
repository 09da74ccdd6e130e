# Shared by the benchmark scripts (sourced, not run): hyperfine, the release binary, the
# peers' Python (PYTHON when set, else the project's .venv with bench/requirements.txt,
# installed by `scripts/setup --bench`), and the scratch folder `tmp` (KEEP when set, kept;
# else a temporary one removed at exit).

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

if [ -z "${PYTHON:-}" ]; then
  scripts/setup --bench >&2
  PYTHON="$PWD/.venv/bin/python"
fi

if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP"
  tmp="$(cd "$KEEP" && pwd)"
else
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
fi
