# fairway image: the single `fairway` binary (scheduler, topology-agent, reservation-agent, sim,
# apiserver) on Debian bookworm, run as a non-root user. Two stages: the build needs the -dev
# packages and a compiler; the runtime keeps only the shared libraries the binary links.
#
#   docker build -t ghcr.io/fairway/fairway:0.1.0 .
#
# The Makefile's package list is the single source of truth for build dependencies (`make deps`);
# the runtime packages are derived from the built binary with ldd + dpkg -S, so neither list can
# drift from the code.

FROM debian:bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
# Build dependencies only (DEBIAN_COMMANDS= skips npm, which only the chart tests need).
RUN make deps DEBIAN_COMMANDS= && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release \
      -DFAIRWAY_BUILD_TESTS=OFF -DFAIRWAY_BUILD_BENCHMARKS=OFF \
 && cmake --build /build --target fairway -j "$(nproc)" \
 && strip /build/fairway
# The Debian packages that own the shared libraries the binary links (libc excluded: the base
# image has it).
RUN for lib in $(ldd /build/fairway | awk '/=> \// {print $3}'); do \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")"; \
    done | cut -d: -f1 | sort -u | grep -vx -e libc6 -e libgcc-s1 > /build/runtime-packages \
 && cat /build/runtime-packages

FROM debian:bookworm-slim
COPY --from=build /build/runtime-packages /tmp/runtime-packages
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates $(cat /tmp/runtime-packages) \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
 && groupadd --gid 65532 fairway \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin fairway
COPY --from=build /build/fairway /usr/local/bin/fairway
# Numeric, so the kubelet can verify runAsNonRoot without resolving the name.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/fairway"]
CMD ["scheduler"]
