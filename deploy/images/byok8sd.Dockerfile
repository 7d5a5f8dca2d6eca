# byok8sd's image: the daemon binary alone on a distroless base, running as user 65532.
# The Snakemake logger plugin is compiled into the binary, and with the Kubernetes backend
# Snakemake runs only in driver and rule pods (runner.Dockerfile), so nothing else is needed.
#
# Build from the repository's root (the whole Cargo workspace is the context):
#   docker build -f deploy/images/byok8sd.Dockerfile -t byok8s/byok8sd:0.1.0 .

# The build and run stages must share a glibc: Debian 12 (bookworm) in both.
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# The caches keep downloaded crates and compiled dependencies between builds; the binary is
# copied out of the target cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p byok8sd \
    && install -D -m 0755 target/release/byok8sd /out/byok8sd

# cc-debian12 holds glibc, libgcc and CA certificates (for S3 and the Kubernetes API over TLS);
# :nonroot runs as 65532, the user deploy/base/daemon.yaml requires.
FROM ${RUNTIME_IMAGE}
COPY --from=build /out/byok8sd /usr/local/bin/byok8sd
USER 65532:65532
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/byok8sd"]
