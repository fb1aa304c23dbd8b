#!/usr/bin/env bash
# Regenerates everything derived from the nsfwjs 4.4.0 npm package:
#   1. npm ci (nsfwjs 4.4.0, @tensorflow/tfjs 4.22.0 + wasm backend, pngjs; versions pinned by package-lock.json)
#   2. extract.js            TF.js model.json + binary weight shards out of nsfwjs's .min.js bundles
#   3. tfjs_layers_to_onnx.py  the Keras layers models -> models/nsfw-mobilenet-v2.onnx, nsfw-inception-v3.onnx
#      tfjs_graph_to_onnx.py   the TF graph model      -> models/nsfw-mobilenet-v2-mid.onnx
#      to_fp16.py              float16-compute variants -> models/nsfw-mobilenet-v2.fp16.onnx, nsfw-mobilenet-v2-mid.fp16.onnx
#                              (InceptionV3's would be another 22.6 MB: made on demand, see README.md)
#      to_int8.py              int8 (static QDQ) variants  -> models/nsfw-mobilenet-v2.int8.onnx, nsfw-mobilenet-v2-mid.int8.onnx
#   4. make-test-images.js + reference.js
#                            the PNG test images and the ORIGINAL model's scores on them
#                            (tests/Moderation.Streams.Inference.Tests/data/)
#
# Needs node + npm (registry access for npm ci) and Debian's python3-onnx + python3-numpy
# (`apt-get install python3-onnx python3-numpy`), run as /usr/bin/python3.
#
# Usage: convert.sh [--models-dir DIR] [--data-dir DIR] [--work-dir DIR] [--no-reference]
#   --work-dir DIR   install node_modules and extract into DIR instead of this folder (the repo stays untouched)
#   --no-reference   only (re)build the ONNX models
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
models_dir="$repo/models"
data_dir="$repo/tests/Moderation.Streams.Inference.Tests/data"
work_dir="$here"
reference=1
python=/usr/bin/python3
labels=drawing,hentai,neutral,porn,sexy

while [[ $# -gt 0 ]]; do
  case "$1" in
    --models-dir) models_dir="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --work-dir) work_dir="$2"; shift 2 ;;
    --no-reference) reference=0; shift ;;
    *) echo "convert.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

"$python" -c 'import onnx, numpy' 2>/dev/null || {
  echo "convert.sh: $python lacks onnx/numpy: apt-get install python3-onnx python3-numpy" >&2; exit 1; }

mkdir -p "$work_dir" "$models_dir"
work_dir="$(cd "$work_dir" && pwd)"
if [[ "$work_dir" != "$here" ]]; then
  cp "$here"/package.json "$here"/package-lock.json "$here"/*.js "$work_dir"/
fi

echo "== npm ci ($work_dir)"
(cd "$work_dir" && npm ci --no-audit --no-fund --loglevel=error)

echo "== extract"
node "$work_dir/extract.js" --out "$work_dir/build" mobilenet_v2 mobilenet_v2_mid inception_v3

# --compact: weights stay the original uint8 codes + a 256-entry table per tensor (bit-identical floats after
# ONNX Runtime folds the lookup at load): 2.9 + 4.4 + 22.8 MB instead of 10.5 + 17 + 90 MB.
doc() { echo "nsfwjs 4.4.0 $1 (MIT, Infinite Red), converted from its TF.js $2 model by tools/nsfwjs-convert. Input NHWC float32 [N,$3,$3,3] in [0,1]; output softmax [N,5]: $labels."; }
echo "== convert"
"$python" "$here/tfjs_layers_to_onnx.py" "$work_dir/build/mobilenet_v2" "$models_dir/nsfw-mobilenet-v2.onnx" \
  --labels "$labels" --compact --doc "$(doc MobileNetV2 layers 224)"
"$python" "$here/tfjs_graph_to_onnx.py" "$work_dir/build/mobilenet_v2_mid" "$models_dir/nsfw-mobilenet-v2-mid.onnx" \
  --labels "$labels" --compact --doc "$(doc MobileNetV2Mid graph 224)"
"$python" "$here/tfjs_layers_to_onnx.py" "$work_dir/build/inception_v3" "$models_dir/nsfw-inception-v3.onnx" \
  --labels "$labels" --compact --doc "$(doc InceptionV3 layers 299)"

echo "== float16 variants"
for m in nsfw-mobilenet-v2 nsfw-mobilenet-v2-mid; do
  "$python" "$here/to_fp16.py" "$models_dir/$m.onnx" "$models_dir/$m.fp16.onnx"
done

echo "== int8 variants (calibrated on the script's own synthetic images; ~1-3 minutes each)"
for m in nsfw-mobilenet-v2 nsfw-mobilenet-v2-mid; do
  "$python" "$here/to_int8.py" "$models_dir/$m.onnx" "$models_dir/$m.int8.onnx"
done

if [[ $reference -eq 1 ]]; then
  echo "== reference outputs of the original model"
  rm -rf "$data_dir/images"
  node "$work_dir/make-test-images.js" "$data_dir/images"
  node "$work_dir/reference.js" --backend cpu --out "$data_dir/nsfwjs-reference.json" \
    --model MobileNetV2=nsfw-mobilenet-v2 --model MobileNetV2Mid=nsfw-mobilenet-v2-mid --model InceptionV3=nsfw-inception-v3 \
    "$data_dir"/images/*.png
fi
echo "== done: $models_dir/nsfw-mobilenet-v2.onnx nsfw-mobilenet-v2-mid.onnx nsfw-inception-v3.onnx (+ .fp16.onnx and .int8.onnx of the first two)"
