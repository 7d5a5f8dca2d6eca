#!/usr/bin/env bash
# Runs every test: the runner's Python tests, then the Rust unit, integration and end-to-end
# tests: the real byok8sd and byok8s with real Snakemake, locally and on the test-cluster
# harness with a real S3-compatible server, and the offline validation of every manifest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

test/setup-python.sh
test/setup-tools.sh

echo "==> runner Python tests (logger plugin, driver)"
(cd deploy/runner/python && "$root/.venv/bin/python" -m unittest -q)

echo "==> building"
cargo build --workspace --bins --quiet

echo "==> cargo test"
export BYOK8S_TEST_SNAKEMAKE="$root/.venv/bin/snakemake"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# --no-fail-fast: one run reports every failing test, not only those of the first binary.
cargo test --workspace --all-targets --quiet --no-fail-fast 2>&1 | tee "$log" || status=$?

# One closing line over every test binary, since cargo prints a result line per binary.
awk '/^test result:/ { passed += $4; failed += $6; ignored += $8 }
     END { printf "%d passed, %d failed, %d skipped\n", passed, failed, ignored }' "$log"
exit "$status"
