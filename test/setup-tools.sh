#!/usr/bin/env bash
# Installs, once, what the Kubernetes-backend tests run beside the project's own binaries:
# an S3-compatible server that checks credentials (s3s-fs) and the wheels a rule pod's
# `pip install` of the S3 storage plugin finds offline, as the runner image provides them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
s3s_version=0.14.1

if ! "$tools/bin/s3s-fs" --version 2>/dev/null | grep -q "$s3s_version"; then
  echo "==> building s3s-fs $s3s_version (once)"
  cargo install --quiet --locked s3s-fs --version "$s3s_version" --features binary --root "$tools"
fi

wheels="$tools/wheels"
stamp="$wheels/.byok8s-storage-plugin"
plugin=$(grep -h '^snakemake-storage-plugin-s3==' "$root/test/requirements.txt")
if [ "$(cat "$stamp" 2>/dev/null)" != "$plugin" ]; then
  echo "==> downloading wheels for $plugin"
  mkdir -p "$wheels"
  "$root/.venv/bin/pip" download --quiet --disable-pip-version-check "$plugin" -d "$wheels"
  echo "$plugin" >"$stamp"
fi
