# syntax=docker/dockerfile:1
#
# landscape images (BuildKit builds only the stages a target needs):
#
#   target       image                    what
#   api          landscape/api            landscape-server (gRPC API); no LibTorch
#   worker-cpu   landscape/worker-cpu     landscape-worker on Debian's LibTorch (CPU)
#   worker-cuda  landscape/worker-cuda    landscape-worker on a CUDA LibTorch you provide
#
#   docker build --target api        -t landscape/api:0.1.0 .
#   docker build --target worker-cpu -t landscape/worker-cpu:0.1.0 .
#   docker build --target worker-cuda --build-arg LIBTORCH_DIR=third_party/libtorch \
#       -t landscape/worker-cuda:0.1.0 .
#
# The CUDA worker: unpack a LibTorch built for CUDA with the C++11 ABI
# ("cxx11 ABI" archives) inside the build context and name it with LIBTORCH_DIR.
# Its lib/ folder carries the CUDA runtime libraries it was built with; the
# node's NVIDIA container runtime adds the driver. CUDA_DEVEL_IMAGE only lends
# its CUDA toolkit (nvcc, headers) to the compile: pick the CUDA version of your
# LibTorch. Nothing is downloaded beyond the base images and Debian packages.
#
# Ports (API image only): 50051 gRPC (landscape.v1, grpc.health.v1,
# reflection), 9464 Prometheus metrics at /metrics. The workers open no port:
# they connect to Redis. See deploy/README.md.

ARG DEBIAN_IMAGE=debian:bookworm
ARG DEBIAN_SLIM_IMAGE=debian:bookworm-slim
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:12.4.1-devel-ubuntu22.04

# ---- sources, without build trees and without a LibTorch kept in the context
FROM ${DEBIAN_IMAGE} AS source
ARG LIBTORCH_DIR=libtorch
COPY . /src
RUN rm -rf "/src/${LIBTORCH_DIR}" /src/build /src/build-*

# ---- compilers and -dev packages, from the project's single package list
FROM ${DEBIAN_IMAGE} AS build-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --no-torch --no-tests \
    && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh
COPY --from=source /src /src
WORKDIR /src
ENV LANDSCAPE_CMAKE_FLAGS="-G Ninja -DCMAKE_BUILD_TYPE=Release -DLANDSCAPE_BUILD_TESTS=OFF -DLANDSCAPE_BUILD_BENCH=OFF"

# ---- the API server: built without LibTorch
FROM build-base AS build-api
# hadolint ignore=SC2086
RUN cmake -S . -B /build $LANDSCAPE_CMAKE_FLAGS -DLANDSCAPE_BUILD_WORKER=OFF \
    && cmake --build /build --target landscape-server landscape-health-probe \
    && deploy/docker/stage.sh /build /out landscape-server landscape-health-probe

# ---- the CPU worker: Debian's LibTorch 1.13 (CPU)
FROM build-base AS build-worker-cpu
RUN apt-get update \
    && apt-get install -y --no-install-recommends libtorch-dev libdnnl-dev \
    && rm -rf /var/lib/apt/lists/*
# hadolint ignore=SC2086
RUN cmake -S . -B /build $LANDSCAPE_CMAKE_FLAGS -DLANDSCAPE_BUILD_WORKER=ON \
    && cmake --build /build --target landscape-worker \
    && deploy/docker/stage.sh /build /out landscape-worker

# ---- the CUDA worker: a CUDA LibTorch from the build context
FROM ${CUDA_DEVEL_IMAGE} AS cuda-toolkit

FROM build-base AS build-worker-cuda
ARG LIBTORCH_DIR=libtorch
COPY --from=cuda-toolkit /usr/local/cuda /usr/local/cuda
COPY ${LIBTORCH_DIR} /opt/libtorch
ENV PATH=/usr/local/cuda/bin:${PATH} \
    CUDA_HOME=/usr/local/cuda \
    CUDACXX=/usr/local/cuda/bin/nvcc
# hadolint ignore=SC2086
RUN cmake -S . -B /build $LANDSCAPE_CMAKE_FLAGS -DLANDSCAPE_BUILD_WORKER=ON \
        -DCMAKE_PREFIX_PATH=/opt/libtorch -DTorch_DIR=/opt/libtorch/share/cmake/Torch -DLANDSCAPE_WITH_ONEDNN=OFF \
    && cmake --build /build --target landscape-worker \
    && deploy/docker/stage.sh --exclude /opt/libtorch --exclude /usr/local/cuda \
        --allow-missing libcuda.so.1 --allow-missing libnvidia-ml.so.1 \
        /build /out landscape-worker

# ---- runtime images: debian:bookworm-slim, runtime libraries only, non-root
FROM ${DEBIAN_SLIM_IMAGE} AS runtime-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN groupadd --system --gid 10001 landscape \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin landscape \
    && mkdir -p /var/cache/landscape \
    && chown 10001:10001 /var/cache/landscape

FROM runtime-base AS api
COPY --from=build-api /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
    && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build-api /out/bin/ /usr/local/bin/
USER 10001:10001
# gRPC (API, health, reflection), Prometheus metrics, and --http (JSON API, web dashboard).
EXPOSE 50051 9464 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/landscape-health-probe", "--addr", "127.0.0.1:50051", "--timeout", "3"]
ENTRYPOINT ["/usr/local/bin/landscape-server"]
# The Redis address comes from LANDSCAPE_REDIS (or add --redis); tokens with --tokens FILE.
CMD ["--listen", "0.0.0.0:50051", "--metrics", "0.0.0.0:9464", "--http", "0.0.0.0:8080"]

FROM runtime-base AS worker-cpu
COPY --from=build-worker-cpu /out/runtime-packages.txt /tmp/runtime-packages.txt
# libopenblas0-openmp: Debian's default BLAS is single-threaded and far slower.
RUN apt-get update \
    && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends libopenblas0-openmp \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build-worker-cpu /out/bin/ /usr/local/bin/
USER 10001:10001
# The worker serves no endpoint to probe: it exits on a fatal error (the
# restart policy brings it back) and a task it stops heartbeating is
# reclaimed by another worker. Said explicitly rather than left out:
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/landscape-worker"]
# The Redis address comes from LANDSCAPE_REDIS (or add --redis). It opens no port.
CMD ["--device", "cpu", "--cache", "/var/cache/landscape"]

FROM runtime-base AS worker-cuda
COPY --from=build-worker-cuda /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update \
    && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt
COPY --from=build-worker-cuda /opt/libtorch/lib /opt/libtorch/lib
COPY --from=build-worker-cuda /out/bin/ /usr/local/bin/
ENV LD_LIBRARY_PATH=/opt/libtorch/lib \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
USER 10001:10001
# The worker serves no endpoint to probe: it exits on a fatal error (the
# restart policy brings it back) and a task it stops heartbeating is
# reclaimed by another worker. Said explicitly rather than left out:
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/landscape-worker"]
CMD ["--device", "cuda", "--cache", "/var/cache/landscape"]
