# Build the release binary in one stage; run it as a non-root user in a slim second stage.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY migrations ./migrations
COPY abis ./abis
COPY config ./config
COPY benches ./benches
RUN cargo build --release --locked --bin groupstate

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data groupstate \
    && mkdir -p /data /config \
    && chown groupstate /data
COPY --from=build /src/target/release/groupstate /usr/local/bin/groupstate
COPY config/default.toml /config/default.toml
USER groupstate
WORKDIR /data
# The SQLite file (and later the signing key) live in /data; put your settings in
# /config/groupstate.toml and pass `--config /config/groupstate.toml`, or use
# GROUPSTATE__SECTION__KEY variables (e.g. GROUPSTATE__DATABASE__URL=postgres://…).
ENV GROUPSTATE__DATA_DIR=/data
VOLUME ["/data", "/config"]
ENTRYPOINT ["groupstate"]
CMD ["run"]
