#!/usr/bin/env bash
# Runs the example end to end on this machine: sets up Snakemake, builds byok8s, starts
# byok8sd with its embedded defaults (local backend, self-signed TLS), submits workflow-zeta
# with params-blue and follows it live, shows the result, and stops the daemon.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

test/setup-python.sh
echo "==> building byok8s and byok8sd"
cargo build --workspace --bins --quiet
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

data="$root/.byok8s-quickstart"
log="$data/byok8sd.log"
mkdir -p "$data"
echo "==> starting byok8sd (data in $data, log in $log)"
"$bin/byok8sd" --listen 127.0.0.1:0 --data-dir "$data" --snakemake "$root/.venv/bin/snakemake" \
  --log-format json 2>"$log" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true' EXIT

address=""
for _ in $(seq 1 100); do
  address=$(sed -n 's/.*"message":"listening".*"addr":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
  [ -n "$address" ] && break
  kill -0 "$daemon" 2>/dev/null || { cat "$log"; echo "byok8sd did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$address" ] || { cat "$log"; echo "byok8sd did not report its address" >&2; exit 1; }

export BYOK8S_SERVER="https://$address"
export BYOK8S_CA_CERT="$data/tls/server.crt"
echo "==> byok8sd listens on $BYOK8S_SERVER; trusting $BYOK8S_CA_CERT"

cd "$root/test/workflows/example"
echo "==> byok8s submit workflow-zeta params-blue --follow"
"$bin/byok8s" submit workflow-zeta params-blue --follow

run=$("$bin/byok8s" list --limit 1 --output json | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1)
echo "==> $run produced zeta.txt:"
cat "$data/runs/$run/work/zeta.txt"
