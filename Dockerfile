# syntax=docker/dockerfile:1
# Two stages: the release binary is built in the first; the second is a slim Debian that runs it
# as an unprivileged user, with a health check on /healthz. See docs/DEPLOYMENT.md ("Docker").

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY migrations ./migrations
COPY abis ./abis
COPY config ./config
COPY benches ./benches
# The registry and target directories are BuildKit caches: a rebuild after a source change
# recompiles the crate, not its dependencies. The binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin groupstate \
    && install -m 0755 target/release/groupstate /usr/local/bin/groupstate

FROM debian:bookworm-slim
# ca-certificates: TLS to RPC providers, webhooks and PostgreSQL; curl: the health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin groupstate \
    && mkdir -p /data /config \
    && chown groupstate:groupstate /data \
    && chmod 0700 /data
COPY --from=build /usr/local/bin/groupstate /usr/local/bin/groupstate
COPY config/default.toml /config/default.toml
USER 10001:10001
WORKDIR /data
# The SQLite file and a generated checkpoint key live in /data; put your settings in
# /config/groupstate.toml and pass `--config /config/groupstate.toml`, or use
# GROUPSTATE__SECTION__KEY variables (e.g. GROUPSTATE__DATABASE__URL=postgres://…). Secrets
# (database URL, GROUPSTATE__LEDGER__SIGNING_KEY, GROUPSTATE__API__ADMIN_TOKEN) belong in the
# environment or a secret store, not in the image.
ENV GROUPSTATE__DATA_DIR=/data \
    GROUPSTATE__API__BIND=0.0.0.0:8080 \
    GROUPSTATE__LOG__FORMAT=json
EXPOSE 8080
VOLUME ["/data"]
# /healthz: the process answers. Readiness (/readyz) is for the load balancer, not for restarts:
# a replica waiting for a slow node must not be killed for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
# SIGTERM (docker stop) hands chain leases back and stops within seconds; give it time to.
STOPSIGNAL SIGTERM
ENTRYPOINT ["groupstate"]
CMD ["run"]
