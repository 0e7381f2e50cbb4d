#!/usr/bin/env bash
# Installs the training and validation photographs (docs/design.md §5) from Debian and PyPI packages. Nothing is
# downloaded at training time beyond these packages; no photo is committed.
#
# The camera photographs of data.CAMERA_PHOTOS are unpacked into models/work/photos (or $COLDFRAME_PHOTO_DIR):
# enlightenment-data keeps its 4K photos inside .edj theme files (edje_decc unpacks them, about a CPU minute
# each), tuxpaint-data is unpacked without installing its 160 MB stamps dependency, foolbox's wheel is unzipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${COLDFRAME_PHOTO_DIR:-$root/models/work/photos}
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers opencv-doc palapeli-data \
  enlightenment-data libedje-bin lxqt-themes unzip

mkdir -p "$dir/enlightenment" "$dir/tuxpaint" "$dir/foolbox"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# the photographs among enlightenment's backgrounds (the others are drawn art); each theme holds one image per
# screen size, the largest (3840 wide) is kept
edj_photos="Bamboo Foggy-Trees God-Rays Green-Maple Lichen-Branches Mountain Peaks Red-Maple Sea-of-Lanterns
  Snow-Trees Spruce-Needles Sunset-Clouds White-Flower Yellow-Flower"
for name in $edj_photos; do
  [ -s "$dir/enlightenment/$name.png" ] || echo "$name"
done | xargs -r -P "$(nproc)" -I{} sh -c '
  cd "$0" && edje_decc /usr/share/enlightenment/data/backgrounds/{}.edj >/dev/null 2>&1 &&
  largest=$(ls -S {}/img*.png {}/*.jpg 2>/dev/null | head -n1) && cp "$largest" "$1/enlightenment/{}.${largest##*.}"
' "$work" "$dir"

(cd "$work" && apt-get download -qq tuxpaint-data && dpkg -x tuxpaint-data_*.deb tux)
cp "$work"/tux/usr/share/tuxpaint/templates/*.jpg "$dir/tuxpaint/"

pip download -q --no-deps foolbox==3.3.4 -d "$work"
unzip -o -q -j "$work"/foolbox-3.3.4-*.whl 'foolbox/data/imagenet_*' -d "$dir/foolbox"
echo "photos in $dir: $(find "$dir" -type f | wc -l)"
