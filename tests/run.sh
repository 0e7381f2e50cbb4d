#!/usr/bin/env bash
# The test suite, as CI runs it. Installs what the tests need when it is missing (ffmpeg and ffprobe, and
# GStreamer's gst-launch-1.0 with its base plugins: the stream tests' producers and consumers, from Debian's
# packages; as root or through sudo), then runs `cargo test --release` with any arguments given here
# (e.g. `tests/run.sh --test stream`).
# The ARM binaries are tested too when COLDFRAME_ARM_BINS names them (tests/arm_qemu.rs; .ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need+=(ffmpeg)
command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools gstreamer1.0-plugins-base)
if [ ${#need[@]} -gt 0 ]; then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  echo "tests/run.sh: installing ${need[*]} for the stream tests" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exec cargo test --release "$@"
