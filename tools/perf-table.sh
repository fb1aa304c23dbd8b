#!/usr/bin/env bash
# The README's "Performance" table in one run: every bench that prints a RATIO, each against its baseline measured in the
# same bench invocation, on this machine, one after the other, with the CPU (and GPU, if any), the date and the load
# average around each bench written beside it. Run from anywhere; a quiet machine gives figures worth pasting.
#
#   tools/perf-table.sh                       the whole set (about 10-20 minutes on 2 cores)
#   tools/perf-table.sh --quick               shorter measurements and smaller sets (a smoke run; ratios are noisier)
#   tools/perf-table.sh --only pdq,e2e        some benches only (pdq inference int8 classify shadow video bank digest text
#                                             captions poison e2e soak)
#   --reference PATH                          Meta's pdq-photo-hasher binary for `bench pdq --reference` (not in the repo:
#                                             README, Perceptual hashing, says how it was built); without it that row
#                                             says it was not run
#   --soak-minutes N                          `bench soak --minutes N` (default 0: not run; the issue asks for >= 30)
#   --out DIR                                 logs and table (default: ./perf-table-out); the table is DIR/table.md
#   --app DIR                                 a published app to run (DIR/moderation); default: dotnet publish -c Release
#                                             (ReadyToRun, as the images) into DIR/app first
#
# Exit status: 0 when every bench that ran exited 0 (a missed goal is a figure, not a failure), 1 otherwise, 2 for usage.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
repo=$(pwd)

quick=0 only="" reference="" soak=0 out="$repo/perf-table-out" app=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --only) only="${2:-}"; shift 2 ;;
    --reference) reference="${2:-}"; shift 2 ;;
    --soak-minutes) soak="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --app) app="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-table.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$soak" in ''|*[!0-9.]*) echo "perf-table.sh: --soak-minutes takes a number" >&2; exit 2 ;; esac
known="pdq inference int8 classify shadow video bank digest text captions poison e2e soak"
for name in ${only//,/ }; do
  case " $known " in *" $name "*) ;; *) echo "perf-table.sh: --only knows: $known (not '$name')" >&2; exit 2 ;; esac
done
if [ -n "$reference" ] && [ ! -x "$reference" ]; then echo "perf-table.sh: --reference $reference is not an executable" >&2; exit 2; fi

case ",$only," in *,soak,*) [ "$soak" != 0 ] || { echo "perf-table.sh: --only soak needs --soak-minutes N" >&2; exit 2; } ;; esac

wanted() {
  if [ "$1" = soak ] && [ "$soak" = 0 ]; then return 1; fi
  [ -z "$only" ] && return 0
  case ",$only," in *",$1,"*) return 0 ;; esac
  return 1
}

mkdir -p "$out/logs" || exit 2
out=$(cd "$out" && pwd)
if [ -z "$app" ]; then
  app="$out/app"
  echo "publishing the app (Release, ReadyToRun) into $app ..."
  if ! dotnet publish "$repo/src/Moderation.Streams.Cli" -c Release -o "$app" -v q -nologo > "$out/logs/publish.txt" 2>&1; then
    echo "perf-table.sh: dotnet publish failed (see $out/logs/publish.txt)" >&2; tail -20 "$out/logs/publish.txt" >&2; exit 1
  fi
fi
moderation="$app/moderation"
[ -x "$moderation" ] || { echo "perf-table.sh: no $moderation" >&2; exit 2; }

load() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a; }
cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
simd=""
for f in avx2 avx512f avx512_vnni sha_ni; do case " $flags " in *" $f "*) simd="$simd $f" ;; esac; done
gpu=$( (nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true) | head -1)

rows=()      # "figure|value|goal|bench|load"
failed=0
# run NAME ARGS...: one bench, its log kept, its RATIO lines turned into rows.
run() {
  local name=$1; shift
  local log="$out/logs/$name.txt" before after rc
  before=$(load)
  echo "[$(date -u +%H:%M:%S)] $name: moderation $* (load $before)"
  (cd "$repo" && "$moderation" "$@") > "$log" 2>&1
  rc=$?
  after=$(load)
  if [ $rc -ne 0 ]; then
    failed=1
    rows+=("$name: exit $rc (see logs/$name.txt)|-|-|\`moderation $*\`|$before-$after")
    echo "   exit $rc: $(tail -1 "$log")"
    return
  fi
  local found=0
  while read -r _ ratio value _ goal; do
    rows+=("\`$ratio\`|$value|$goal|\`moderation $*\`|$before-$after")
    echo "   RATIO $ratio $value (goal $goal)"
    found=1
  done < <(grep '^RATIO ' "$log")
  [ $found -eq 1 ] || rows+=("$name: printed no RATIO (see logs/$name.txt)|-|-|\`moderation $*\`|$before-$after")
}
skipped() { rows+=("$1|not run|-|$2|-"); echo "[$(date -u +%H:%M:%S)] $1: not run ($2)"; }

if [ $quick -eq 1 ]; then
  s=1 rounds=2 uploads=100 hits=2000 bank=200000 images=20 captions=16 videos="--videos 2 --seconds 4" poison=1000
else
  s=3 rounds=3 uploads=400 hits=4000 bank=1000000 images=60 captions=100 videos="" poison=3000
fi

if wanted pdq; then
  if [ -n "$reference" ]; then run pdq bench pdq --seconds "$s" --images "$images" --reference "$reference"
  else run pdq bench pdq --seconds "$s"; skipped '`hash_vs_reference`' "no --reference PATH (Meta's pdq-photo-hasher, built outside the repo)"; fi
fi
wanted inference && run inference bench inference --seconds "$s" --rounds "$rounds"
wanted int8 && run int8 bench inference --precision int8 --seconds "$s" --rounds "$rounds"
if wanted classify; then
  convert="$repo/tools/nsfwjs-convert"
  if ! command -v node > /dev/null; then skipped '`classify_vs_nsfwjs`' "node is not installed"
  else
    if [ ! -d "$convert/node_modules/nsfwjs" ] && command -v npm > /dev/null; then
      echo "installing nsfwjs for the reference (npm ci in tools/nsfwjs-convert) ..."
      (cd "$convert" && npm ci --no-audit --no-fund > "$out/logs/npm.txt" 2>&1)
    fi
    if [ -d "$convert/node_modules/nsfwjs" ]; then run classify bench classify --nsfwjs "$convert/reference.js" --images "$images"
    else skipped '`classify_vs_nsfwjs`' "nsfwjs could not be installed (see logs/npm.txt)"; fi
  fi
fi
wanted shadow && run shadow bench shadow --rounds "$rounds"
if wanted video; then
  if command -v ffmpeg > /dev/null; then run video bench video --rounds "$rounds" $videos
  else skipped '`video_screening_vs_decoding`' "ffmpeg is not installed"; fi
fi
if wanted bank || wanted digest || wanted e2e || wanted captions || wanted poison || wanted soak; then
  command -v redis-server > /dev/null || echo "note: no redis-server on PATH: the benches with a store use embedded Garnet or refuse (README)"
fi
wanted bank && run bank bench bank --hashes "$bank" --changes 100
wanted digest && run digest bench digest
wanted text && run text bench text
wanted captions && run captions bench captions --uploads "$captions" --rounds "$rounds"
wanted poison && run poison bench poison --uploads "$poison"
wanted e2e && run e2e bench e2e --uploads "$uploads" --hit-uploads "$hits" --stage-seconds "$s"
wanted soak && run soak bench soak --minutes "$soak"

{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC by \`tools/perf-table.sh$([ $quick -eq 1 ] && echo ' --quick')\`, one bench after the other, each ratio against a"
  echo "baseline run in the same bench invocation; published Release build (ReadyToRun)."
  echo "CPU: ${cpu:-unknown}, $(nproc) cores,${simd:- no AVX2/AVX-512/SHA-NI flags}; GPU: ${gpu:-none}; $(grep MemTotal /proc/meminfo 2>/dev/null | awk '{printf "%.0f GiB RAM", $2/1048576}')."
  echo
  echo "| figure | value | goal | bench (same run: its baseline) | load average before-after |"
  echo "|---|---|---|---|---|"
  for row in "${rows[@]}"; do echo "| ${row//|/ | } |"; done
} > "$out/table.md"
echo
cat "$out/table.md"
echo
echo "table: $out/table.md; logs: $out/logs/"
exit $failed
