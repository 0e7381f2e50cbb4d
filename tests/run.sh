#!/usr/bin/env bash
# The test suite, as CI runs it. Installs what the tests need when it is missing (ffmpeg and ffprobe, the stream
# tests' producer and consumer, from Debian's packages; as root or through sudo), then runs
# `cargo test --release` with any arguments given here (e.g. `tests/run.sh --test stream`).
# The ARM binaries are tested too when COLDFRAME_ARM_BINS names them (tests/arm_qemu.rs; .ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  echo "tests/run.sh: installing ffmpeg for the stream tests" >&2
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi
exec cargo test --release "$@"
