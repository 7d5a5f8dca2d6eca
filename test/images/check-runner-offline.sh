#!/usr/bin/env bash
# The runner image's Python steps without a container engine: builds the wheels and installs
# from them as deploy/images/runner.Dockerfile does, then, with no network (a new network
# namespace; needs root), repeats what Snakemake's Kubernetes executor runs at the start of
# every rule pod (`pip install --target .snakemake/pip-deployments snakemake-storage-plugin-s3`)
# with the image's pip settings, and a workflow with `--logger byok8s` from the installed
# plugin. Downloads the runner's packages from PyPI once (about 50 MiB); takes about a minute.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

offline() { unshare --net "$@"; }
if ! unshare --net true 2>/dev/null; then
  echo "warning: cannot make a network namespace (not root?): pip is kept offline only by" \
    "PIP_NO_INDEX" >&2
  offline() { "$@"; }
fi

echo "==> wheels of deploy/runner/requirements-kubernetes.txt and deploy/runner/python"
mkdir -p "$work/build"
cp "$root"/deploy/runner/requirements*.txt "$work/build/"
cp -r "$root/deploy/runner/python" "$work/build/python"
python3 -m venv "$work/build-env"
(cd "$work/build" && "$work/build-env/bin/pip" wheel --quiet --no-cache-dir \
  --disable-pip-version-check --wheel-dir "$work/wheels" -r requirements-kubernetes.txt ./python)

echo "==> installing the runner from the wheels alone, offline"
python3 -m venv "$work/runner"
offline "$work/runner/bin/pip" install --quiet --no-cache-dir --disable-pip-version-check \
  --no-index --find-links "$work/wheels" \
  -r "$work/build/requirements-kubernetes.txt" byok8s-runner

image_env=(env -i "PATH=$work/runner/bin:/usr/bin:/bin" "HOME=$work/home"
  PIP_NO_INDEX=1 "PIP_FIND_LINKS=$work/wheels" PIP_NO_CACHE_DIR=1
  PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1)
mkdir -p "$work/home" "$work/rule"

echo "==> a rule pod's storage plugin install, offline"
(cd "$work/rule" && offline "${image_env[@]}" sh -c \
  "pip install --quiet --target '.snakemake/pip-deployments' snakemake-storage-plugin-s3")
test -d "$work/rule/.snakemake/pip-deployments/snakemake_storage_plugin_s3"

echo "==> snakemake --logger byok8s from the installed plugin, offline"
printf 'rule all:\n    output: "done.txt"\n    shell: "echo done > {output}"\n' \
  >"$work/rule/Snakefile"
events=$(cd "$work/rule" && offline "${image_env[@]}" snakemake --cores 1 --logger byok8s \
  2>/dev/null)
grep -q '^@@byok8s@@ {"event":"job_finished"' <<<"$events"
echo "check-runner-offline.sh: the runner installs and works without a package index"
