#!/usr/bin/env bash
# Packs the CLI, built for the GPU, for a GPU machine that has neither network nor the .NET SDK, in parts that each
# fit one device run next to this checkout's working tree. Run it on a machine with both, from the checkout that
# makes the device runs; then make the runs it prints (each part in its own run, the GPU check in the last).
#
#   tools/gpu-check/pack.sh [--arch 90|all] [--part-mib N]
#
# --arch all keeps the provider as shipped (no fatbin surgery; the fallback if the reduced library fails to load on
# the GPU), at the cost of ~200 MB more xz: about ten parts instead of three or four.
# Why parts: a device run carries at most 64 MiB with the working tree (~33 MB here, most of it models/). The
# self-contained publish is ~450 MB, of which libonnxruntime_providers_cuda.so is 284 MB: 218 MB of already
# compressed GPU code for six architectures. So: the framework is trimmed (TrimMode=partial: only the framework's
# own assemblies), native libraries the GPU check never loads are left out (Kafka, Garnet, TensorRT, HarfBuzz), the
# models come from the working tree, and the CUDA provider keeps only the GPU code of --arch (90 = H100/H200;
# fatbin_keep_arch.py). That is still ~80 MB of xz, so three runs at least.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch=90 part_mib=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --part-mib) part_mib=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "pack.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

carry=.gpu-carry
archive=moderation-gpu.tar.xz
work=artifacts/gpu-check
if ! git check-ignore -q "$carry/x"; then
  echo "pack.sh: $carry/ is not git-ignored here, so every part would travel in every run; add /$carry/ to .gitignore" >&2
  exit 1
fi

echo "== publish (Release, -p:OnnxRuntimeFlavor=gpu, self-contained, framework trimmed)"
rm -rf "$work"
# Trim analysis warnings are not errors here: only framework assemblies are trimmed, and the app is tried below.
dotnet publish -c Release src/Moderation.Streams.Cli/Moderation.Streams.Cli.csproj -p:OnnxRuntimeFlavor=gpu \
  --self-contained -p:PublishTrimmed=true -p:TrimMode=partial -p:TreatWarningsAsErrors=false \
  -p:SuppressTrimAnalysisWarnings=true --artifacts-path "$work/build" -o "$work/publish" | tail -3
app=$work/app
mkdir -p "$app"
(cd "$work/publish" && tar -cf - --exclude=models --exclude='*.pdb' --exclude='*.dbg' --exclude='*librdkafka.so' \
  --exclude='libdiskann_garnet.so' --exclude='libbftree_garnet.so' --exclude='liblua54.so' --exclude='libnative_device*.so' \
  --exclude='libonnxruntime_providers_tensorrt.so' --exclude='libHarfBuzzSharp.so' --exclude='libonnxruntime_providers_cuda.so' .) |
  tar -xf - -C "$app"
provider=$work/publish/libonnxruntime_providers_cuda.so
if [ "$arch" = all ]; then
  cp "$provider" "$app/libonnxruntime_providers_cuda.so"
else
  python3 tools/gpu-check/fatbin_keep_arch.py "$provider" "$app/libonnxruntime_providers_cuda.so" --arch "$arch"
fi

echo "== the packed app runs here (CPU; CUDA refused for want of the libraries)"
image=tests/Moderation.Streams.Inference.Tests/data/images/plasma-224x224.png
mkdir -p "$work/try" && cp -r "$app/." "$work/try/" && mkdir -p "$work/try/models" && cp models/*.onnx "$work/try/models/"
"$work/try/moderation" classify --device cpu "$image"
"$work/try/moderation" bench inference --device cpu --seconds 0.2 --rounds 1 --max-batch 2 | grep -E '^(model|RATIO)'
"$work/try/moderation" classify --device cuda "$image" 2>&1 | grep -m1 'moderation classify' || true
rm -rf "$work/try"

echo "== compress (xz -9, a few minutes on 2 cores)"
tar -C "$app" -cf - . | xz -9 -T0 > "$work/$archive"
size=$(stat -c %s "$work/$archive")

# What else travels in each run: tracked and untracked-not-ignored files, and shared/ if this checkout has one.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
[ -d shared ] && tree=$((tree + $(du -sb shared | cut -f1)))
limit=$((64 * 1024 * 1024))
if [ "$part_mib" -gt 0 ]; then part=$((part_mib * 1024 * 1024)); else part=$((limit - tree - 2 * 1024 * 1024)); fi
if [ "$part" -le $((4 * 1024 * 1024)) ]; then
  echo "pack.sh: the working tree ($tree bytes) leaves no room under 64 MiB for a part" >&2
  exit 1
fi

rm -rf "$carry" && mkdir -p "$carry"
split -b "$part" -d -a 2 --numeric-suffixes=1 "$work/$archive" "$carry/$archive.part-"
{
  echo "# packed $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' (src has uncommitted changes)')"
  echo "# Microsoft.ML.OnnxRuntime.Gpu.Linux $(sed -n 's/.*Include="Microsoft.ML.OnnxRuntime.Gpu.Linux" Version="\([^"]*\)".*/\1/p' Directory.Packages.props); CUDA provider: $([ "$arch" = all ] && echo "as shipped (every architecture)" || echo "sm_$arch code only"); original sha256 $(sha256sum "$provider" | cut -c1-16)"
  echo "$(sha256sum "$work/$archive" | cut -d' ' -f1)  $archive"
  (cd "$carry" && sha256sum "$archive".part-*)
} > "$carry/manifest.txt"
rm -f "$work/$archive"

parts=("$carry/$archive".part-*)
echo
echo "packed: $size bytes of xz in ${#parts[@]} parts of at most $part bytes; the working tree that travels too: $tree bytes"
cat "$carry/manifest.txt"
echo
echo "Device runs (no more than ~30 s apart: a machine left idle longer is given back and the staged parts are lost):"
last=$(( ${#parts[@]} - 1 ))
for i in "${!parts[@]}"; do
  if [ "$i" -lt "$last" ]; then
    echo "  run  carry=[\"$carry/manifest.txt\", \"${parts[$i]}\"]  command: tools/gpu-check.sh --stage"
  else
    echo "  run  carry=[\"$carry/manifest.txt\", \"${parts[$i]}\"]  command: tools/gpu-check.sh   (timeout_s 540)"
  fi
done
