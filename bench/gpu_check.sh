#!/usr/bin/env bash
# The CUDA backend against the CPU: trains logistic_regression and mlp on both from the
# same seeded data and prints fit times, the largest probability difference against its
# tolerance, and AUCs (train/examples/gpu_check.rs). Exit 0: parity holds; 1: it does
# not, or training failed; 2: no GPU is usable here.
#
#   bench/gpu_check.sh                          builds the example (release) with cargo
#   GPU_CHECK_BIN=path/to/gpu_check bench/gpu_check.sh
#                                               runs a binary built elsewhere (a GPU machine without Rust)
#   GPU_CHECK_ROWS=100000 ...                   fewer training rows (default 500000)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${GPU_CHECK_BIN:-}" ]; then
  bin=$GPU_CHECK_BIN
elif command -v cargo >/dev/null 2>&1; then
  cargo build --release --quiet -p mlpc-train --example gpu_check
  bin="${CARGO_TARGET_DIR:-target}/release/examples/gpu_check"
else
  echo "gpu_check: no cargo here; set GPU_CHECK_BIN to a gpu_check binary built with cargo" >&2
  exit 2
fi

# cudarc opens libnvrtc and libcublas as lib<name>.so or lib<name>.so.12 (libcuda.so.1 for
# the driver). When the loader knows neither, take them from a CUDA toolkit folder or from
# the pip nvidia-* packages, linked under the plain name in a scratch folder, with their
# own folders on the search path for what they load in turn (nvrtc-builtins, cublasLt).
known() { ldconfig -p 2>/dev/null | grep -Eq "lib$1\.so(\.12)? "; }
search_dirs() {
  ls -d /usr/local/cuda*/lib64 /usr/local/cuda*/targets/*/lib 2>/dev/null || true
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null || true
  done
}
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
extra=""
for lib in nvrtc cublas; do
  known "$lib" && continue
  found=$(search_dirs | while read -r d; do find "$d" -name "lib$lib.so*" 2>/dev/null; done | sort -V | tail -n 1)
  if [ -n "$found" ]; then
    ln -s "$found" "$shim/lib$lib.so"
    extra="$extra:$(dirname "$found")"
    echo "gpu_check: using $found" >&2
  fi
done
export LD_LIBRARY_PATH="$shim$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$bin"
