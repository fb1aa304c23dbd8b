#!/usr/bin/env bash
# The Inference tests built against the GPU ONNX Runtime package (-p:OnnxRuntimeFlavor=gpu:
# Microsoft.ML.OnnxRuntime.Gpu.Linux, a 245 MB download once; ~380 MB of build output). Where CUDA 13 is missing
# (CI, the development machines) they check that `cuda` is refused and `auto` falls back naming the missing library,
# and that the GPU package's CPU provider scores like the reference; on a GPU machine with CUDA 13 and cuDNN 9 the
# CUDA test runs instead. Outputs go to artifacts/gpu (git-ignored) so the two flavours' restores never mix in obj/.
# Arguments go to `dotnet test`, e.g.: tools/test-gpu-flavour.sh -- --filter-class "*ExecutionProvider*"
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet test --project tests/Moderation.Streams.Inference.Tests -c Release -p:OnnxRuntimeFlavor=gpu \
  --artifacts-path artifacts/gpu "$@"
