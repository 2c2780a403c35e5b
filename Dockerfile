# The Cairn image: cairnd and the cairn CLI on Debian 12. docker-compose.yml
# builds it; alone: docker build -t cairn .
#
# Build stage: the very scripts a developer and CI run (install-deps.sh,
# build.sh), then `cmake --install`.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN bash scripts/install-deps.sh
COPY . .
RUN CMAKE_BUILD_TYPE=Release bash scripts/build.sh \
 && cmake --install build --prefix /opt/cairn --strip \
 && bash scripts/runtime-packages.sh /opt/cairn > /opt/cairn/runtime-packages

# Runtime stage: the installed tree and the shared libraries it links, nothing else.
FROM debian:bookworm-slim
COPY --from=build /opt/cairn /opt/cairn
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(cat /opt/cairn/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/cairn cairn \
 && mkdir -p /var/lib/cairn /etc/cairn && chown cairn /var/lib/cairn
ENV PATH=/opt/cairn/bin:$PATH
USER cairn
VOLUME /var/lib/cairn
EXPOSE 7070
ENTRYPOINT ["cairnd"]
CMD ["--data-dir", "/var/lib/cairn", "--listen", "0.0.0.0:7070"]
