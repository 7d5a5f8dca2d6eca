#!/usr/bin/env bash
# Runs every test: the logger plugin's Python tests, then the Rust unit, integration and
# end-to-end tests (the real byok8sd and byok8s with real Snakemake).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

test/setup-python.sh

echo "==> logger plugin tests"
(cd deploy/runner/python && "$root/.venv/bin/python" -m unittest -q)

echo "==> building"
cargo build --workspace --bins --quiet

echo "==> cargo test"
export BYOK8S_TEST_SNAKEMAKE="$root/.venv/bin/snakemake"
cargo test --workspace --quiet
