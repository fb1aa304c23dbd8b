#!/usr/bin/env bash
# The GPU check: proves (or says exactly why not) that the CUDA path works on an NVIDIA machine, in one command run
# from the repository root. Results go under $OUT (default ./gpu-check-out): summary.txt first, then the full log,
# the benches, ONNX Runtime's node placement log and nvidia-smi samples (8 files).
#
#   tools/gpu-check.sh                  use the build carried in .gpu-carry/ (tools/gpu-check/pack.sh; see below),
#                                       else build with the .NET SDK here (needs NuGet or a warm package cache)
#   tools/gpu-check.sh --prebuilt DIR   run DIR/moderation (a folder published with -p:OnnxRuntimeFlavor=gpu)
#   tools/gpu-check.sh --stage          only move the carried parts to /tmp/gpu-check-stage and check them
#   --quick                             skip the nsfw-inception-v3 bench
#
# What it does: nvidia-smi (card, driver, CUDA version); looks for the CUDA 13 / cuDNN 9 libraries ONNX Runtime's
# CUDA provider needs (ldconfig, the CUDA toolkit, pip's nvidia-* wheels) and puts their folders on
# LD_LIBRARY_PATH; ldd of the provider; `classify --device cuda` vs `--device cpu` on the test images (scores must
# agree); `bench inference --device cuda` for nsfw-mobilenet-v2 (buckets to 128, 4 batches in flight) with ONNX
# Runtime's node placement logged and nvidia-smi sampled meanwhile; its fp16 variant against fp32 briefly; and
# nsfw-inception-v3 briefly (skipped when its file was left out of the working tree). About 3-5 minutes.
#
# A machine without network and without the .NET SDK gets the app from tools/gpu-check/pack.sh, run beforehand on
# a machine with both: a self-contained, trimmed publish whose CUDA provider keeps only sm_90 code (H100/H200),
# xz-compressed and split into parts that each fit one device run next to the working tree. Each part travels in
# its own run (`tools/gpu-check.sh --stage`), the last one with this check; pack.sh prints the exact runs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)

prebuilt="" stage_only=0 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt=$(cd "$2" && pwd) || exit 2; shift 2 ;;
    --stage) stage_only=1; shift ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done

out=${OUT:-$repo/gpu-check-out}
mkdir -p "$out"
carry=$repo/.gpu-carry
stage=/tmp/gpu-check-stage
archive="moderation-gpu.tar.xz"
log=$out/gpu-check.log
summary=$out/summary.txt
exec > >(tee -a "$log") 2>&1
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
section() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
started=$(date +%s)

# --- carried parts: move them where the next run finds them, check each against the manifest -----------------------
stage_parts() {
  mkdir -p "$stage"
  [ -f "$carry/manifest.txt" ] && cp "$carry/manifest.txt" "$stage/"
  for part in "$carry"/$archive.part-*; do [ -f "$part" ] && mv -f "$part" "$stage/"; done
  [ -f "$stage/manifest.txt" ] || return 1
  local bad=0 want have
  while read -r sum name; do
    if [ -f "$stage/$name" ]; then
      have=$(sha256sum "$stage/$name" | cut -d' ' -f1)
      if [ "$have" = "$sum" ]; then echo "staged $name ok"; else echo "staged $name: CHECKSUM MISMATCH"; bad=1; fi
    else
      echo "not yet here: $name"
    fi
  done < <(grep -E "^[0-9a-f]{64}  $archive\.part-" "$stage/manifest.txt")
  want=$(grep -cE "^[0-9a-f]{64}  $archive\.part-" "$stage/manifest.txt")
  have=$(find "$stage" -name "$archive.part-*" | wc -l)
  echo "parts here: $have of $want"
  return $bad
}

if [ "$stage_only" = 1 ]; then
  stage_parts; status=$?
  nvidia-smi -L 2>/dev/null || true
  exit $status
fi

# --- the machine -------------------------------------------------------------------------------------------------
section "machine"
uname -a; nproc; free -g | head -2
if command -v nvidia-smi >/dev/null; then
  nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader | sed 's/^/gpu: /' | tee -a "$summary"
  note "cuda (driver): $(nvidia-smi | grep -o 'CUDA Version: [0-9.]*' | head -1)"
else
  note "gpu: nvidia-smi NOT FOUND"
fi

# --- CUDA 13 / cuDNN 9 libraries -----------------------------------------------------------------------------------
# Linked by libonnxruntime_providers_cuda.so (readelf -d): cublasLt, cublas, curand, cudart, cuda (the driver).
# Opened at run time: cudnn (with its libcudnn_*.so.9 parts, from the same folder), cufft, nvrtc.
section "CUDA libraries"
linked=(libcublasLt.so.13 libcublas.so.13 libcurand.so.10 libcudart.so.13 libcuda.so.1)
opened=(libcudnn.so.9 libcufft.so.12 libnvrtc.so.13)
find_args=()
for lib in "${linked[@]}" "${opened[@]}"; do find_args+=(-name "$lib" -o); done
unset 'find_args[${#find_args[@]}-1]'
# Where they live on GPU images: ldconfig's cache, the toolkit, the driver mount, pip's nvidia-* wheels (torch's venv).
candidates=$(find /usr/local/cuda*/ /usr/local/nvidia /usr/lib /usr/lib64 /lib /opt /root /home \( "${find_args[@]}" \) 2>/dev/null | sort -u)
lib_dirs=()
missing=()
for lib in "${linked[@]}" "${opened[@]}"; do
  where=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')
  [ -n "$where" ] || where=$(grep -m1 "/$lib\$" <<<"$candidates")
  if [ -n "$where" ]; then
    echo "found   $lib  $where"
    dir=$(dirname "$where")
    [[ " ${lib_dirs[*]} " == *" $dir "* ]] || lib_dirs+=("$dir")
  else
    echo "MISSING $lib"; missing+=("$lib")
  fi
done
if [ ${#lib_dirs[@]} -gt 0 ]; then
  LD_LIBRARY_PATH=$(IFS=:; echo "${lib_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
fi
env | grep -E '^(LD_LIBRARY_PATH|CUDA_[A-Z_]*)=' || true
if [ ${#missing[@]} -eq 0 ]; then note "cuda libraries: all found (${lib_dirs[*]})"; else note "cuda libraries: MISSING ${missing[*]}"; fi

# --- the app ---------------------------------------------------------------------------------------------------------
section "the app"
app=""
if [ -n "$prebuilt" ]; then
  app=$prebuilt; note "app: prebuilt $app"
elif stage_parts; [ -f "$stage/manifest.txt" ]; then
  want=$(grep -cE "^[0-9a-f]{64}  $archive\.part-" "$stage/manifest.txt")
  have=$(find "$stage" -name "$archive.part-*" | wc -l)
  if [ "$have" -ne "$want" ]; then
    note "app: only $have of $want carried parts are here (a warm machine keeps the earlier runs' parts in $stage; a fresh one has lost them)"
    exit 1
  fi
  sed -n '/^# /p' "$stage/manifest.txt" | tee -a "$summary"
  expected=$(awk -v a="$archive" '$2 == a { print $1 }' "$stage/manifest.txt")
  actual=$(cat "$stage"/$archive.part-* | sha256sum | cut -d' ' -f1)
  [ "$expected" = "$actual" ] || { note "app: the reassembled archive's checksum is wrong"; exit 1; }
  app=/tmp/gpu-check-app
  rm -rf "$app" && mkdir -p "$app"
  if command -v xz >/dev/null; then
    cat "$stage"/$archive.part-* | xz -dc | tar -x -C "$app"
  else
    cat "$stage"/$archive.part-* | python3 -c 'import lzma, sys, shutil; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)' | tar -x -C "$app"
  fi || { note "app: unpacking failed"; exit 1; }
  note "app: carried build unpacked to $app"
elif command -v dotnet >/dev/null; then
  app=/tmp/gpu-check-app
  if dotnet publish -c Release src/Moderation.Streams.Cli/Moderation.Streams.Cli.csproj -p:OnnxRuntimeFlavor=gpu \
       --artifacts-path "$repo/artifacts/gpu-check-device" -o "$app"; then
    note "app: built here with $(dotnet --version)"
  else
    note "app: dotnet publish failed (no network for the Gpu.Linux package?); carry a build: tools/gpu-check/pack.sh"
    exit 1
  fi
else
  note "app: none: no --prebuilt, no carried parts in .gpu-carry/ or $stage, no .NET SDK (tools/gpu-check/pack.sh makes them)"
  exit 1
fi
mkdir -p "$app/models"
for m in "$repo"/models/*.onnx; do [ -f "$app/models/$(basename "$m")" ] || cp "$m" "$app/models/"; done
moderation=$app/moderation
[ -x "$moderation" ] || { note "app: $moderation is missing"; exit 1; }

section "ldd libonnxruntime_providers_cuda.so"
ldd "$app/libonnxruntime_providers_cuda.so" | grep -E "cu|not found" || true
not_found=$(ldd "$app/libonnxruntime_providers_cuda.so" | awk '/not found/ { print $1 }' | tr '\n' ' ')
[ -z "$not_found" ] || note "provider: ldd says not found: $not_found"

# --- classify: CUDA against the CPU on the test images ------------------------------------------------------------------
section "classify --device cuda vs --device cpu"
images=("$repo"/tests/Moderation.Streams.Inference.Tests/data/images/*.png)
"$moderation" classify --device cuda "${images[@]}" > /tmp/gpu-check-cuda.jsonl 2> /tmp/gpu-check-cuda.err
cuda_status=$?
"$moderation" classify --device cpu "${images[@]}" > /tmp/gpu-check-cpu.jsonl 2> /tmp/gpu-check-cpu.err
echo "cuda (exit $cuda_status):"; cat /tmp/gpu-check-cuda.jsonl /tmp/gpu-check-cuda.err
echo "cpu:"; cat /tmp/gpu-check-cpu.jsonl
if [ $cuda_status -ne 0 ]; then
  note "classify --device cuda: FAILED: $(grep -v '^\[' /tmp/gpu-check-cuda.err | grep -m1 'moderation classify')"
else
  python3 - /tmp/gpu-check-cuda.jsonl /tmp/gpu-check-cpu.jsonl <<'EOF' | tee -a "$summary"
import json, sys
cuda, cpu = ([json.loads(l) for l in open(p)] for p in sys.argv[1:3])
worst, flips = 0.0, []
for g, c in zip(cuda, cpu):
    worst = max(worst, max(abs(g["scores"][k] - c["scores"][k]) for k in c["scores"]))
    if max(g["scores"], key=g["scores"].get) != max(c["scores"], key=c["scores"].get): flips.append(g["path"])
ok = len(cuda) == len(cpu) > 0 and worst <= 0.01 and not flips
print(f"classify --device cuda: {len(cuda)} images, max |cuda - cpu| {worst:.2e}, top class differs on {len(flips)} "
      f"{'OK' if ok else 'MISMATCH'}{' ' + ' '.join(flips) if flips else ''}")
EOF
fi

# --- benches, with nvidia-smi sampling -----------------------------------------------------------------------------------
samplers=()
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw,clocks.sm --format=csv -l 1 > "$out/gpu-samples.csv" 2>&1 &
  samplers+=($!)
  nvidia-smi --query-compute-apps=timestamp,pid,process_name,used_gpu_memory --format=csv -l 1 > "$out/compute-apps.csv" 2>&1 &
  samplers+=($!)
fi
placement=$out/ort-placement.log
: > "$placement"

section "bench inference: nsfw-mobilenet-v2 on CUDA"
timeout 300 "$moderation" bench inference --device cuda --model nsfw-mobilenet-v2 --max-batch 128 --concurrent-batches 4 \
  --seconds 3 --rounds 3 --log-placement > "$out/bench-mobilenet-v2.txt" 2>> "$placement" &
wait $!; bench_status=$?
cat "$out/bench-mobilenet-v2.txt"

section "bench inference: nsfw-mobilenet-v2 fp16 against fp32 on CUDA"
timeout 150 "$moderation" bench inference --device cuda --model nsfw-mobilenet-v2 --precision fp16 --max-batch 128 --concurrent-batches 4 \
  --seconds 1.5 --rounds 1 > "$out/bench-mobilenet-v2-fp16.txt" 2>> "$placement"
echo "exit $?"; cat "$out/bench-mobilenet-v2-fp16.txt"

if [ "$quick" = 0 ] && [ ! -f "$repo/models/nsfw-inception-v3.onnx" ]; then
  note "nsfw-inception-v3.onnx is not in this working tree (left out to shrink the transfer?): its bench is skipped"
  quick=1
fi
if [ "$quick" = 0 ]; then
  section "bench inference: nsfw-inception-v3 on CUDA"
  timeout 150 "$moderation" bench inference --device cuda --model nsfw-inception-v3 --max-batch 64 --concurrent-batches 2 \
    --seconds 1.5 --rounds 1 > "$out/bench-inception-v3.txt" 2>> "$placement"
  echo "exit $?"; cat "$out/bench-inception-v3.txt"
fi
for pid in "${samplers[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done

# --- summary ---------------------------------------------------------------------------------------------------------------
section "summary"
bench=$out/bench-mobilenet-v2.txt
note "bench (exit $bench_status): $(grep -m1 '^model ' "$bench" || grep -v '^\[' "$placement" | grep -m1 'moderation bench' || echo 'no output')"
grep -E '^(CPU FALLBACK|baseline|round|latency)' "$bench" | tee -a "$summary"
grep -E '^RATIO ' "$bench" | tee -a "$summary"
grep -E '^model |^RATIO ' "$out/bench-mobilenet-v2-fp16.txt" 2>/dev/null | sed 's/^/fp16: /' | tee -a "$summary"
grep -E '^model |^RATIO ' "$out/bench-inception-v3.txt" 2>/dev/null | sed 's/^/inception: /' | tee -a "$summary"
grep -hE 'placed on \[' "$placement" | sed 's/^.*VerifyEachNodeIsAssignedToAnEp\] *//; s/^/placement: /' | sort | uniq -c | tee -a "$summary"
if [ -s "$out/compute-apps.csv" ]; then
  note "nvidia-smi compute apps while benching: $(grep -c moderation "$out/compute-apps.csv") samples name moderation; pids: $(awk -F', ' '/moderation/ { print $2 }' "$out/compute-apps.csv" | sort -u | tr '\n' ' ')"
  note "gpu utilisation, max over samples: $(awk -F', ' 'NR > 1 { gsub(/ %/, "", $2); if ($2 + 0 > m) m = $2 + 0 } END { print m + 0 }' "$out/gpu-samples.csv") %"
fi
cuda_active=no
grep -q '^model .* device cuda:0 ' "$bench" && grep -q 'placed on \[CUDAExecutionProvider\]' "$placement" && cuda_active=yes
note "CUDA execution provider active (device cuda:0 and nodes placed on CUDAExecutionProvider): $cuda_active"
note "elapsed: $(( $(date +%s) - started )) s"
if [ "$cuda_active" = yes ] && grep -q 'classify --device cuda: .* OK' "$summary"; then
  note "VERDICT: PASS"
  exit 0
fi
note "VERDICT: FAIL (see gpu-check.log)"
exit 1
