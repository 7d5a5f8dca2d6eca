# The runner image: the driver pod of every run and every rule's pod start from it. It holds
# Snakemake with its Kubernetes executor and S3 storage plugin (deploy/runner/
# requirements-kubernetes.txt) and byok8s's Python parts (deploy/runner/python), and runs as
# the numeric user 65532, so that runAsNonRoot can be verified.
#
# Build from the repository's root:
#   docker build -f deploy/images/runner.Dockerfile -t byok8s/runner:0.1.0 .
#
# Snakemake's Kubernetes executor starts each rule pod with
# `pip install --target .snakemake/pip-deployments snakemake-storage-plugin-s3` (every storage
# plugin installed here, with all its dependencies). This image answers that from the wheels in
# /wheels, with no package index, so rule pods need no network beyond S3 and install the same
# versions as the driver.

ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS wheels
WORKDIR /build
COPY deploy/runner/requirements.txt deploy/runner/requirements-kubernetes.txt ./
COPY deploy/runner/python/ ./python/
# Every package the runner needs, dependencies included, as wheels (sources are built here).
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements-kubernetes.txt ./python

FROM ${PYTHON_IMAGE}
COPY --from=wheels /wheels /wheels
COPY deploy/runner/requirements.txt deploy/runner/requirements-kubernetes.txt /tmp/requirements/
RUN pip install --no-cache-dir --no-index --find-links /wheels \
        -r /tmp/requirements/requirements-kubernetes.txt byok8s-runner \
    && rm -rf /tmp/requirements \
    && useradd --uid 65532 --user-group --create-home --home-dir /home/runner \
        --shell /usr/sbin/nologin runner \
    && install -d -o 65532 -g 65532 /workdir

# pip in rule pods: only /wheels, no cache to write, no version check over the network.
# Python output unbuffered, so that byok8sd sees every log line as it is written.
ENV PIP_NO_INDEX=1 \
    PIP_FIND_LINKS=/wheels \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/runner

USER 65532:65532
WORKDIR /workdir
CMD ["snakemake", "--version"]
