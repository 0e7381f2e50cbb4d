#!/usr/bin/env bash
# Installs the training and validation photographs (docs/design.md §5) from Debian packages. Nothing is downloaded at
# training time beyond these packages; no photo is committed.
set -euo pipefail
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers opencv-doc palapeli-data
