#!/usr/bin/env bash
# Validates offline everything byok8s ships for Kubernetes, and any manifests given as
# arguments (files or directories of YAML or JSON, such as the daemon's generated Jobs):
#   - deploy/ and deploy/overlays/minio, rendered by kubectl's kustomize, against the strict
#     OpenAPI schemas and the API server's own rules (validate.py), as bundles applied whole;
#   - the example Secrets, and the validator's own tests: every broken fixture is rejected;
#   - what deploy/ renders agrees with itself and with Snakemake's executor (test_deploy.py);
#   - the image definitions, with hadolint.
# Needs kubectl on PATH; sets up .venv (test/setup-python.sh) for the rest. Exits non-zero on
# the first failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

test/setup-python.sh
python="$root/.venv/bin/python"
validate() { "$python" test/manifests/validate.py "$@"; }
command -v kubectl >/dev/null || { echo "check.sh: kubectl is needed (for kustomize)" >&2; exit 2; }

# The oldest Kubernetes release checked besides the newest: nothing in deploy/ needs a newer
# one, and checking against it keeps it that way.
oldest=1.30

echo "==> deploy/ (kubectl kustomize)"
kubectl kustomize deploy/ | validate --bundle -k "$oldest" -k latest -
echo "==> deploy/overlays/minio (kubectl kustomize)"
kubectl kustomize deploy/overlays/minio | validate --bundle -k "$oldest" -k latest -
echo "==> deploy/examples"
validate -k "$oldest" -k latest deploy/examples
if [ "$#" -gt 0 ]; then
  echo "==> $*"
  validate "$@"
fi

echo "==> validator and deploy/ tests"
(cd test/manifests && "$python" -m unittest -q test_validate test_deploy)

echo "==> deploy/images (hadolint)"
"$root/.venv/bin/hadolint" deploy/images/*.Dockerfile
echo "check.sh: all deployment checks passed"
