#!/usr/bin/env bash
# Creates .venv at the repository root with the runner's Python packages (Snakemake), once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
requirements="$root/deploy/runner/requirements.txt"
stamp="$venv/.byok8s-requirements"

if [ -x "$venv/bin/snakemake" ] && cmp -s "$requirements" "$stamp"; then
  exit 0
fi
echo "==> creating $venv with $(grep -v '^#' "$requirements" | tr '\n' ' ')"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
