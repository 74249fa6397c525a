#!/usr/bin/env bash
# ./dev bench: builds every function (host release and arm64 Lambda release), starts the local
# AWS (on its own port) unless it runs already, and prints the figures of bench/bench.py,
# bench-logic and bench-reaper.
# Expects ./dev's local_env.
# A function is benchmarked by its directory name under functions/ (its package and binary).
# The floor, bench/floor (package and binary runtime-floor: lambda_runtime alone), is built and
# measured with them, in the same run; bench.py prints each cold start as a ratio to its.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUNCTIONS=()
for dir in functions/*/; do FUNCTIONS+=("$(basename "$dir")"); done
FLOOR=runtime-floor
PACKAGES=(-p "$FLOOR"); BINS=(--bin "$FLOOR")
for f in "${FUNCTIONS[@]}"; do PACKAGES+=(-p "$f"); BINS+=(--bin "$f"); done

# The host build is linked as the Lambda build is (.cargo/config.toml: position-dependent
# executables). RUSTFLAGS with an explicit --target reach the binaries only, not the build
# scripts and proc macros (which must stay position-independent).
HOST="$(rustc -vV | sed -n 's/^host: //p')"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
export BENCH_HOST_RELEASE_DIR="$TARGET_DIR/$HOST/release" BENCH_LAMBDA_DIR="$TARGET_DIR/lambda"
echo "==> cargo build --release --target $HOST (host, non-PIE): $FLOOR ${FUNCTIONS[*]}"
started=$SECONDS
RUSTFLAGS="-C relocation-model=static" cargo build --release --locked --target "$HOST" "${PACKAGES[@]}"
export BENCH_HOST_BUILD_S=$((SECONDS - started))

echo "==> cargo lambda build --release --arm64: $FLOOR ${FUNCTIONS[*]}"
started=$SECONDS
cargo lambda build --release --arm64 --locked "${BINS[@]}"
export BENCH_ARM64_BUILD_S=$((SECONDS - started))

# A local AWS of its own by default: moto serves one call at a time, so a test run sharing it
# would skew the timings (and may stop it when it ends).
export LOCALAWS_PORT="${BENCH_LOCALAWS_PORT:-4597}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${LOCALAWS_PORT}"
if ! bash localaws/localaws.sh status >/dev/null 2>&1; then
  bash localaws/localaws.sh start
  trap 'bash localaws/localaws.sh stop >/dev/null' EXIT
fi

echo "==> measuring (the floor $FLOOR, then ${FUNCTIONS[*]})"
.venv/bin/python bench/bench.py "${FUNCTIONS[@]}"

echo "==> decision logic: post-traffic analysis, reaper planner"
cargo run --release --locked --quiet -p lifeguard-tests --bin bench-logic

# Whole reaper runs through the SDK against this local AWS (its own region and access key):
# 2,000 stacks, four replayed runs, wall time and API calls per run.
echo "==> reaper runs against the local AWS: 2,000 stacks"
cargo run --release --locked --quiet -p lifeguard-tests --bin bench-reaper
