#!/usr/bin/env bash
# Creates .venv at the repository root with the runner's Python packages (Snakemake) and the
# packages only the tests need, once: it does nothing while both requirement files are the same
# as when .venv was last set up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
requirements=("$root/deploy/runner/requirements.txt" "$root/test/requirements.txt")
stamp="$venv/.byok8s-requirements"

wanted=$(cat "${requirements[@]}")
if [ -x "$venv/bin/snakemake" ] && [ -f "$stamp" ] && [ "$wanted" = "$(cat "$stamp")" ]; then
  exit 0
fi
echo "==> setting up $venv with $(cat "${requirements[@]}" | grep -v -e '^#' -e '^$' | tr '\n' ' ')"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  -r "${requirements[0]}" -r "${requirements[1]}"
printf '%s\n' "$wanted" >"$stamp"
