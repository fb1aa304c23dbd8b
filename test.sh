#!/usr/bin/env bash
# The whole test suite. Installs what the tests need when it is missing (redis-server, kcat, ffmpeg, a font for
# plots, python3-onnx for the model-conversion test, promtool from Debian's prometheus package for the alert
# rules' suite, and Debian's chromium for the review console's browser tests), then runs every test project of the solution, and the Inference tests once more against the GPU
# ONNX Runtime package.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core) # text in evaluate's plots
command -v promtool >/dev/null 2>&1 || need+=(prometheus) # `promtool test rules deploy/prometheus/tests/*.yml`
[ -x /usr/bin/chromium ] || need+=(chromium) # the review console's browser tests (Playwright with ExecutablePath)
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1 || need+=(python3 python3-onnx python3-numpy)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]} (apt)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The alert rules' promtool suite (Deploy.Tests, AlertRulesTests) fails instead of skipping without promtool.
export MODERATION_REQUIRE_PROMTOOL=1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test Moderation.Streams.sln "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The Inference tests again against the GPU ONNX Runtime package: without CUDA here, `cuda` must be refused and
# `auto` fall back naming the missing library (a 245 MB package download the first time; outputs in artifacts/gpu).
# The conversion-reproducibility tests run python and npm, not ONNX Runtime: once above is enough.
tools/test-gpu-flavour.sh -- --filter-not-class "*ConversionReproducibilityTests" 2>&1 | tee -a "$log"
gpu_status=${PIPESTATUS[0]}
set -e
# One plain closing line over all test projects.
total=$(grep -E '^\s*total:' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -E '^\s*failed:' "$log" | awk '{s+=$2} END {print s+0}')
passed=$(grep -E '^\s*succeeded:' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -E '^\s*skipped:' "$log" | awk '{s+=$2} END {print s+0}')
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$gpu_status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$total" -eq 0 ]; then
  echo "test.sh: FAILED (dotnet test exit $status, GPU-flavour tests exit $gpu_status)" >&2
  exit 1
fi
