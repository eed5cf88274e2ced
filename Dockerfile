# syntax=docker/dockerfile:1
# image-pipeline container: one image, deployed as several Cloud Run services that
# differ only by PIPELINE_ROUTES (see cloudbuild.yaml and README.md).
#
# Stages: chef (toolchain + build tools) -> planner (dependency recipe) ->
# deps (dependencies only, a cached layer) -> builder (the crate) -> runtime
# (distroless, no shell, non-root). deploy/check-runtime-root.sh proves the runtime
# stage without Docker; deploy/lint.sh runs hadolint on this file.

# Keep in step with the toolchain the project is tested with (edition 2024, MSRV 1.89).
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS chef
# nasm assembles libjpeg's SIMD code (mozjpeg-sys); without it the build still works
# but falls back to plain C, so the image keeps it (the deps stage checks that SIMD was
# built). The C compiler comes with the rust image. Pinned to the bookworm version; bump
# it together with the Debian release.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nasm=2.16.01-1 \
    && rm -rf /var/lib/apt/lists/*
# cargo-chef turns Cargo.toml/Cargo.lock into a recipe, so a source-only change
# reuses the (slow, ~3 min) dependency layer instead of rebuilding every crate.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# Its own stage so cloudbuild.yaml can push it as a cache image for the next build.
FROM chef AS deps
COPY --from=planner /build/recipe.json recipe.json
# mozjpeg-sys silently builds libjpeg without SIMD when nasm is missing (a slower image
# that works): fail instead.
RUN cargo chef cook --release --locked --recipe-path recipe.json \
    && grep -q 'WITH_SIMD 1' target/release/build/mozjpeg-sys-*/out/include/jconfig.h

FROM deps AS builder
COPY . .
# /out/data becomes the writable data folder for the local profile; made here
# because the runtime stage has no shell to run mkdir.
RUN cargo build --release --locked --bin image-pipeline \
    && install -d -m 0755 -o 65532 -g 65532 /out/data

# distroless/cc ships exactly what the release binary links (libc, libm, libgcc_s)
# plus CA certificates for the Google APIs, and no shell or package manager: a
# smaller attack surface than debian:bookworm-slim, same Debian 12 libraries.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
WORKDIR /app
COPY --from=builder /build/target/release/image-pipeline /app/image-pipeline
COPY config /app/config
COPY --from=builder --chown=65532:65532 /out/data /data
# PIPELINE_PROFILE is deliberately not set: the binary picks `gcp` when Cloud Run's
# K_SERVICE is present and `local` otherwise (e.g. `docker run` on a laptop).
# Nor is the host: `gcp` listens on 0.0.0.0 (config/gcp.toml; Cloud Run's contract),
# `local` on 127.0.0.1, because its upload and event routes have no authentication and
# a container's port is reachable from other containers, and from the network when
# published on every interface. To reach a local-profile server from the host, opt in
# and publish on loopback only:
#   docker run -e PIPELINE_SERVER__HOST=0.0.0.0 -p 127.0.0.1:8080:8080 ...
ENV PIPELINE_CONFIG_DIR=/app/config \
    PIPELINE_LOCAL__DATA_DIR=/data
# Numeric uid:gid (distroless "nonroot") so runAsNonRoot checks can verify it.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/app/image-pipeline"]
CMD ["serve"]
