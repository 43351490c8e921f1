"""Serve a GGUF with llama.cpp's native C++ server engine (llama-server), embedded by xllamacpp.

`xlc.Server(params)` loads the model and starts llama-server's own HTTP server
(cpp-httplib, its own threads) on `params.hostnames`/`params.port`; this process
then only waits. The load generator talks to it over HTTP like any other server,
so all three targets are measured the same way. Exits when stdin closes.

    python benchmarks/xllamacpp_server.py MODEL PORT --slots 8 --ctx 1024 [--threads N] [--api-key K] [--metrics]
                                          [--mmproj PROJECTOR]
"""

from __future__ import annotations

import argparse
import sys

import xllamacpp as xlc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("port", type=int)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--ctx", type=int, default=1024, help="context per slot")
    parser.add_argument("--threads", type=int, help="default: llama.cpp's own choice (the physical cores)")
    parser.add_argument("--api-key", help="require this bearer token (as llama-server --api-key)")
    parser.add_argument("--metrics", action="store_true", help="serve Prometheus /metrics (as llama-server --metrics)")
    parser.add_argument("--no-slots", action="store_true", help="no /slots endpoint (as llama-server --no-slots)")
    parser.add_argument("--mmproj", help="a multimodal projector: the model reads images (as llama-server --mmproj)")
    args = parser.parse_args()

    params = xlc.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_parallel = args.slots
    params.n_ctx = args.ctx * args.slots  # llama-server splits n_ctx across its slots
    params.kv_unified = False  # one KV stream per slot, n_ctx/slots each, like our engine
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    params.n_gpu_layers = 0  # CPU wheel; explicit
    if args.api_key:
        params.api_keys = [args.api_key]
    params.endpoint_metrics = args.metrics
    params.endpoint_slots = not args.no_slots
    if args.mmproj:
        params.mmproj.path = args.mmproj
        params.mmproj_use_gpu = False
    server = xlc.Server(params)
    print(server.listening_address, flush=True)
    sys.stdin.read()  # until the load generator closes our stdin (or dies)


if __name__ == "__main__":
    main()
