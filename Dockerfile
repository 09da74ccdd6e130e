# The image `mlpc export argo` names (--image): mlpc and mlpc-runtime with the native
# libraries they load (DuckDB, ONNX Runtime), running as a non-root user. Each Argo task runs
# `mlpc run /mlpc/plan.json --node ID --state … --base-dir /pipeline` in it.
#
#   docker build -t registry.example.com/mlpc:0.1.0 .
#   docker build --build-arg PIPELINE=examples/churn -t registry.example.com/churn:0.1.0 .
#
# PIPELINE copies a pipeline's folder (its data files, onnx(…) models, commands) to
# /pipeline, where the plan's relative paths start; leave it out when the data comes from
# the shared state or a volume mounted there.

FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The native libraries into .deps/lib, as for a checkout (scripts/setup), then the release build.
RUN scripts/setup --libs && cargo build --release --locked --bin mlpc --bin mlpc-runtime

FROM debian:bookworm-slim
ARG PIPELINE=examples/churn
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin mlpc
COPY --from=build /src/.deps/lib/libduckdb.so /src/.deps/lib/libonnxruntime.so.1.32.0 /usr/local/lib/
RUN ln -s libonnxruntime.so.1.32.0 /usr/local/lib/libonnxruntime.so.1 && ln -s libonnxruntime.so.1 /usr/local/lib/libonnxruntime.so && ldconfig
COPY --from=build /src/target/release/mlpc /src/target/release/mlpc-runtime /usr/local/bin/
COPY --chown=mlpc:mlpc ${PIPELINE} /pipeline
# mlpc looks for libduckdb.so on the loader path; ONNX Runtime is opened from MLPC_LIB_DIR.
ENV LD_LIBRARY_PATH=/usr/local/lib MLPC_LIB_DIR=/usr/local/lib HOME=/home/mlpc
# A numeric user, so `runAsNonRoot: true` can be verified by the kubelet.
USER 10001
WORKDIR /home/mlpc
ENTRYPOINT ["mlpc"]
