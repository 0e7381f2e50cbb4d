#!/usr/bin/env bash
# One GPU session's training run of the recipe, prepared to fit a device lease (15 minutes, the machine's start
# included): the inpainter and the camera restorer go on from the committed f32 models, and a wider blur estimator
# trains from scratch, side by side on one GPU, each with its own data-loader workers (the CPU sets the pace
# there). Each run's checkpoint and output are copied to $OUT every 20 seconds and at its end, so a lease cut
# short still brings back what was trained.
#
#   here:   python models/recipe/data.py pack models/work/pack      (45 MB of JPEGs: that machine has no Debian
#                                                                    packages, and its working tree holds 64 MiB)
#   there:  device run, command "bash models/recipe/device_run.sh", carry ["models/work/pack"], timeout_s 600
#   here:   inpaint.pt, camera.pt, estimator.pt come back with their logs; export.py each, then the cards' steps
#           (models/inpaint.md and models/camera.md, "A GPU run")
#
# MINUTES (default 7.5): each run's training time. WORKERS (default "4 4 5"): data-loader processes of the
# inpainter, the restorer and the estimator. ESTIMATOR: the estimator's flags (default: 24-48-64-80 channels from
# scratch at lr 1e-3; "--init models/blur-estimator-f32.onnx --lr 3e-4" goes on from the shipped one instead, which
# 60 CPU minutes showed no gain from). FILL_ON (default: device where CUDA is, else loader): where the inpainter's
# sor fill is made (train.py --fill-on). Without $OUT (a dry run here, on the CPU) the files go to
# models/work/device_out.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-models/work/device_out}
minutes=${MINUTES:-7.5}
read -r w_inpaint w_camera w_estimator <<<"${WORKERS:-4 4 5}"
work=${DEVICE_RUN_WORK:-/tmp/coldframe_device_run}
mkdir -p "$out" "$work"
export COLDFRAME_PHOTOS=models/work/pack PYTHONUNBUFFERED=1
py=python3

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || echo "no nvidia-smi"
  nproc
  "$py" -c "import torch, cv2, scipy, skimage, onnx; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} >"$out/device.txt" 2>&1 || { cat "$out/device.txt"; echo "the recipe's Python packages are missing"; exit 1; }
cat "$out/device.txt"
fill_on=${FILL_ON:-$("$py" -c "import torch; print('device' if torch.cuda.is_available() else 'loader')")}
echo "inpaint fill on: $fill_on"
ls "$COLDFRAME_PHOTOS"/*.jpg >/dev/null 2>&1 || { echo "no packed photos: run data.py pack here, carry them"; exit 1; }

start_run() { # name, script and its flags: trains in $work/name, its output in $work/name.log
  local name=$1
  shift
  mkdir -p "$work/$name"
  "$py" "$@" --out "$work/$name" >"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"
}

runs="inpaint camera estimator"
collect() {
  for name in $runs; do
    [ -f "$work/$name/last.pt" ] && cp "$work/$name/last.pt" "$out/$name.pt"
    [ -f "$work/$name.log" ] && cp "$work/$name.log" "$out/$name.log"
  done
}

start_run inpaint models/recipe/train.py --task inpaint --init models/inpaint-f32.onnx --fill sor --augment \
  --camera-photos --extra-photos --mask-scale frame --crop 256 --batch 32 --loss-norm sample --lr 4e-4 \
  --minutes "$minutes" --steps 1000000 --save-every 250 --threads 2 --workers "$w_inpaint" --fill-on "$fill_on"
start_run camera models/recipe/train.py --task camera --init models/camera-f32.onnx --camera-photos --augment \
  --batch 64 --lr 3e-4 --minutes "$minutes" --steps 1000000 --save-every 500 --threads 2 --workers "$w_camera"
# shellcheck disable=SC2086  # ESTIMATOR is a list of flags
start_run estimator models/recipe/estimator.py ${ESTIMATOR:---channels 24,48,64,80 --lr 1e-3} --batch 64 \
  --minutes "$minutes" --steps 1000000 --threads 2 --workers "$w_estimator"

pids=$(cat "$work"/*.pid)
while kill -0 $pids 2>/dev/null; do
  sleep 20
  collect
  for name in $runs; do echo "$name: $(tail -n 1 "$work/$name.log")"; done
done
status=0
for name in $runs; do
  wait "$(cat "$work/$name.pid")" || { status=1; echo "$name failed:"; tail -n 20 "$work/$name.log"; }
done
collect
ls -l "$out"
exit $status
