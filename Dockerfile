# keyward in a container: `docker build -t keyward .` then
#   docker run --rm -p 8181:8181 keyward                      # serves the demo world
#   docker run --rm -p 8181:8181 -v $PWD/world:/etc/keyward/world:ro keyward \
#       serve --world /etc/keyward/world --listen 0.0.0.0:8181
# See docs/operations.md.

# Build stage: the release binary, from the locked dependencies.
FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin keyward \
 && strip target/release/keyward

# Runtime stage: Debian slim, the binary, a demo world, and a user without privileges.
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 keyward \
 && useradd --system --uid 10001 --gid keyward --no-create-home --shell /usr/sbin/nologin keyward
COPY --from=build /src/target/release/keyward /usr/local/bin/keyward
COPY corpus/default/world.json /etc/keyward/world/world.json
USER 10001:10001
EXPOSE 8181
# Healthy means ready: a world serves and the last reload from the world path did not fail.
# bash's /dev/tcp keeps curl out of the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8181 && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/keyward"]
CMD ["serve", "--world", "/etc/keyward/world/world.json", "--listen", "0.0.0.0:8181"]
