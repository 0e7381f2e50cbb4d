"""Training and validation photographs (docs/design.md §5) and the training pairs built from them.

Photos come from Debian packages (install_photos.sh); the inpainter's training-only extras (extra_photos) also from
PyPI packages. The split is by whole photo: sorted by name, every fifth
photo is validation, so no crop of a validation photo is ever trained on. Every photo is resized (area
filter) so that its short side is SHORT_SIDE pixels: camera-frame scale, and the downscale removes most JPEG
artefacts of the originals, so the targets are clean.
"""
import glob
import io
import os
import random

import numpy as np
from PIL import Image, ImageOps

SHORT_SIDE = 480

# plasma-workspace-wallpapers: the photographic scenes only (looked at one by one: the others are renders and
# illustrations), one resolution per scene.
PLASMA_PHOTOS = [
    "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Kite", "OneStandsOut",
    "Path", "summer_1am",
]
# lomiri wallpapers that are renders or graphics, not photographs
NOT_PHOTOS = {
    "Painting-Colors_by__herobrine7gamer.jpg", "analogpattern_by_Peter_Nerlich.jpg", "Fossa_by_Jasper_Roks.jpg",
    "greentock_by_Peter_Nerlich.jpg", "umang_by_Abhishek_Mudgal.jpg",
}


def plasma_file(scene):
    files = glob.glob(f"/usr/share/wallpapers/{scene}/contents/images/*.*")
    if not files:
        return None

    def area(f):
        w, h = os.path.basename(f).split(".")[0].split("x")
        return int(w) * int(h)

    # landscape files only, the largest up to 2560 wide (bigger ones are just slower to decode)
    land = [f for f in files if area(f) > 0 and int(os.path.basename(f).split("x")[0]) >= int(os.path.basename(f).split("x")[1].split(".")[0])]
    land = land or files
    small = [f for f in land if int(os.path.basename(f).split("x")[0]) <= 2560]
    return max(small or land, key=area)


def photo_list():
    packed = os.environ.get("COLDFRAME_PHOTOS")
    if packed:
        # a folder written by `data.py pack DIR`: the same photos, already resized, named by photo_name (so the
        # split is the same); lets a machine without the Debian packages (a GPU box) train on them
        photos = sorted((p for p in glob.glob(os.path.join(packed, "*.jpg"))
                         if SCALE_MARK not in p and not os.path.basename(p).startswith((EXTRA_PREFIX, CAMERA_PREFIX))),
                        key=photo_name)
        if len(photos) < 20:
            raise SystemExit(f"only {len(photos)} photos in COLDFRAME_PHOTOS={packed}")
        return photos
    photos = sorted(glob.glob("/usr/share/backgrounds/mate/nature/*.jpg"))
    photos += [p for p in sorted(glob.glob("/usr/share/backgrounds/*_by_*.jpg")) if os.path.basename(p) not in NOT_PHOTOS]
    photos += [p for p in (plasma_file(s) for s in PLASMA_PHOTOS) if p]
    if len(photos) < 20:
        raise SystemExit(f"only {len(photos)} photos found: run models/recipe/install_photos.sh first")
    # sorted by a name that includes the plasma scene, so the split does not depend on file resolutions
    return sorted(photos, key=photo_name)


def photo_name(path):
    if os.environ.get("COLDFRAME_PHOTOS"):
        return os.path.basename(path)[: -len(".jpg")]
    parts = path.split("/")
    return parts[4] if parts[3] == "wallpapers" else os.path.basename(path)


# Training-only photographs from other packages (train.py --extra-photos): camera photographs that palapeli-data
# (install_photos.sh), scikit-image, scikit-learn and matplotlib ship. They never join the split above, so the
# validation photos stay the same seven. Left out: the packages' textures, microscopy, astronomy and grey images,
# and motorcycle_right (the same scene as motorcycle_left).
EXTRA_PREFIX = "extra-"
PALAPELI_PHOTOS = ["castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
                   "panther-chameleon-female"]
SKIMAGE_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"]


def extra_photo_files():
    import matplotlib
    import skimage
    import sklearn.datasets

    files = [f"/usr/share/palapeli/collection/{n}.jpg" for n in PALAPELI_PHOTOS]
    files += [os.path.join(os.path.dirname(skimage.__file__), "data", n) for n in SKIMAGE_PHOTOS]
    files += [os.path.join(os.path.dirname(sklearn.datasets.__file__), "images", n) for n in ["china.jpg", "flower.jpg"]]
    files.append(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    return files


def extra_photos(files=None):
    """The training-only photos as u8 [H, W, 3]: shrunk to SHORT_SIDE like the others, but the smaller ones (most
    of the Python packages' photos are 300-512 pixels high) not enlarged, which would make them smoother than any
    camera frame. files: the packed ones under COLDFRAME_PHOTOS, else the installed ones (extra_photo_files)."""
    packed = os.environ.get("COLDFRAME_PHOTOS")
    if files is None:
        files = sorted(glob.glob(os.path.join(packed, EXTRA_PREFIX + "*.jpg"))) if packed else extra_photo_files()
    missing = [f for f in files if not os.path.exists(f)]
    if missing or not files:
        raise SystemExit(f"extra photos missing: {missing or packed}; run models/recipe/install_photos.sh and "
                         "pip install scikit-image scikit-learn matplotlib")
    return [load_photo(f, enlarge=False) for f in files]


# The camera photographs of docs/design.md §5 that install_photos.sh unpacks under PHOTO_DIR: a split of their own
# (sorted by name, every fifth is validation), so that `split(camera=True)` adds photos to both sides without
# moving any of the seven validation photos the older models were measured on. Looked at one by one: the other
# images of these packages are drawn art, renders and logos.
PHOTO_DIR = os.environ.get("COLDFRAME_PHOTO_DIR",
                           os.path.join(os.path.dirname(__file__), "..", "work", "photos"))
LXQT_PHOTOS = ["Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png", "beam.png",
               "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg", "this-is-not-windows.jpg"]
# photos whose short side allows them: also at these short sides (an area-filtered shrink of at least 1.4x, so the
# target stays clean), for textures at the scale of a 1080p or 4K frame
LARGER_SCALES = (960, 1440)
CAMERA_PREFIX = "camera-"
SCALE_MARK = "@"  # packed: NAME@960.jpg is NAME.jpg's photo at short side 960
# the photos travel to a GPU machine packed (pack) in JPEG at these qualities (short side 480, the larger scales),
# chroma at full resolution: as PNG the camera photos' scales alone are 130 MiB, and that machine's working tree
# holds 64 (JPEG 95 keeps the photos at 37-50 dB of themselves)
PACK_JPEG_QUALITY = (95, 92)


def packed_file(stem, short_side):
    """A packed photo's file name: STEM.jpg at SHORT_SIDE, STEM@SHORT.jpg at a larger scale."""
    return stem + (f"{SCALE_MARK}{short_side}" if short_side > SHORT_SIDE else "") + ".jpg"


def camera_photo_files():
    packed = os.environ.get("COLDFRAME_PHOTOS")
    if packed:
        files = [f for f in glob.glob(os.path.join(packed, f"{CAMERA_PREFIX}*.jpg")) if SCALE_MARK not in f]
        if len(files) < 60:
            raise SystemExit(f"only {len(files)} camera photos in COLDFRAME_PHOTOS={packed}: pack them again")
        return sorted(files, key=camera_photo_name)
    files = sorted(glob.glob(os.path.join(PHOTO_DIR, "enlightenment", "*.png")))
    files += [os.path.join("/usr/share/lxqt/wallpapers", n) for n in LXQT_PHOTOS]
    files += sorted(glob.glob(os.path.join(PHOTO_DIR, "tuxpaint", "*.jpg")))
    files += sorted(glob.glob(os.path.join(PHOTO_DIR, "foolbox", "imagenet_*.jpg")))
    missing = [f for f in files if not os.path.exists(f)]
    if missing or len(files) < 60:
        raise SystemExit(f"camera photos missing ({len(files)} found; {missing[:3]}): run "
                         "models/recipe/install_photos.sh")
    return files


def camera_photo_name(path):
    base = os.path.basename(path)
    if base.startswith(CAMERA_PREFIX):  # packed: camera-DIR--NAME.jpg
        return base[len(CAMERA_PREFIX) : -len(".jpg")].replace("--", "/")
    return path.split("/")[-2] + "/" + base


def split(camera=False):
    """(training, validation) photo paths; camera: with the camera photographs' own split added to both."""
    photos = photo_list()
    val = photos[2::5]
    train = [p for p in photos if p not in val]
    if camera:
        more = sorted(camera_photo_files(), key=camera_photo_name)
        val += more[2::5]
        train += [p for p in more if p not in more[2::5]]
    return train, val


def load_scales(path):
    """A photo as load_photo gives it, then at LARGER_SCALES where its short side is at least 1.4x that (the same
    scene at a finer texture scale: more training crops from the 4K photos)."""
    if os.environ.get("COLDFRAME_PHOTOS"):
        # packed: the largest scale was written beside the photo (pack); the ones between, shrunk from it
        stem = path[: -len(".jpg")]
        scales = [s for s in LARGER_SCALES if os.path.exists(packed_file(stem, s))]
        if not scales:
            return [load_photo(path)]
        top = packed_file(stem, scales[-1])
        return [load_photo(path)] + [load_photo(top, s) for s in LARGER_SCALES if s <= scales[-1]]
    im = Image.open(path)
    short = min(im.size)
    return [load_photo(path)] + [load_photo(path, s) for s in LARGER_SCALES if short >= 1.4 * s]


def load_photo(path, short_side=SHORT_SIDE, enlarge=True):
    """u8 [H, W, 3] resized to the short side; enlarge=False leaves a smaller photo as it is."""
    # upright as a viewer shows it (a few camera photographs carry an EXIF rotation)
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = im.size
    s = short_side / min(w, h)
    if not enlarge:
        s = min(s, 1.0)
    size = (max(8, round(w * s)), max(8, round(h * s)))
    return np.asarray(im.resize(size, Image.Resampling.BOX if s < 1 else Image.Resampling.BICUBIC))


def crop_to_stride(img, stride=8):
    h, w = img.shape[:2]
    return img[: h - h % stride, : w - w % stride]


def as_frame(img):
    """u8 [H, W, 3] -> float32 [3, H, W] in [0, 1], cropped to the stride: how the evaluations take a photo."""
    return crop_to_stride(img).astype(np.float32).transpose(2, 0, 1) / 255


def validation_photos(limit=0):
    """The validation photos (the first `limit`, 0: all) as [3, H, W] float32 cropped to the stride, and their paths."""
    _, val = split()
    if limit:
        val = val[:limit]
    return val, [as_frame(load_photo(p)) for p in val]


# opencv-doc's sample photographs (installed by install_photos.sh): never trained on, a second held-out set for
# the inpainter's evaluation (evaluate_inpaint.py --set opencv-doc). Renders, drawings, paintings, charts, stereo
# and calibration pairs are left out; so is every photo with real blur (figures.py uses those).
OPENCV_DIR = "/usr/share/doc/opencv-doc/examples/data"
OPENCV_PHOTOS = [
    "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg",
    "ela_original.jpg", "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg", "messi5.jpg", "orange.jpg",
    "smarties.png", "squirrel_cls.jpg", "stuff.jpg",
]


def opencv_photos():
    """OPENCV_PHOTOS as validation_photos gives its photos, except that the smaller ones are not enlarged (that
    would make them smoother than any camera frame)."""
    return OPENCV_PHOTOS, [as_frame(load_photo(os.path.join(OPENCV_DIR, name), enlarge=False))
                           for name in OPENCV_PHOTOS]


class Crops:
    """Random crops with flips (augment: also shrunk, turned and colour-permuted); the degradation and camera noise
    are applied per batch in train.py."""

    def __init__(self, photos, crop, seed=0, images=None, augment=False):
        self.images = images if images is not None else [load_photo(p) for p in photos]
        self.crop = crop
        self.rng = random.Random(seed)
        self.augment = augment

    def reseeded(self, seed):
        """The same photos (shared, not copied: data-loader workers fork) with a generator of their own."""
        return Crops(None, self.crop, seed, images=self.images, augment=self.augment)

    def batch(self, n):
        out = np.empty((n, self.crop, self.crop, 3), np.uint8)
        for i in range(n):
            im = self.rng.choice(self.images)
            h, w = im.shape[:2]
            # augment: a window up to 2x the crop, shrunk to it (area filter), so a photo also shows its scenes
            # at up to half its scale: 29 photos are few, and a restorer trained on them at one scale learns their
            # textures rather than how textures continue (models/inpaint.md, run 7)
            side = self.crop
            if self.augment:
                side = min(h, w, round(self.crop * self.rng.uniform(1.0, 2.0)))
            y, x = self.rng.randrange(h - side + 1), self.rng.randrange(w - side + 1)
            c = im[y : y + side, x : x + side]
            if side != self.crop:
                c = np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((self.crop, self.crop),
                                                                             Image.Resampling.BOX))
            if self.rng.random() < 0.5:
                c = c[:, ::-1]
            if self.rng.random() < 0.5:
                c = c[::-1]
            if self.augment:
                # quarter turns (the crop is square) and, half the time, the colour channels in another order
                c = np.rot90(c, self.rng.randrange(4))
                if self.rng.random() < 0.5:
                    c = c[:, :, self.rng.choice([[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])]
            out[i] = c
        return out


def camera_artefacts(batch_f32, rng):
    """Mild sensor noise and JPEG, then 8-bit quantisation, on degraded inputs [N, H, W, 3] in [0, 1]."""
    out = []
    for x in batch_f32:
        if rng.random() < 0.5:
            x = x + rng.uniform(0.0, 0.012) * np.random.default_rng(rng.randrange(1 << 30)).standard_normal(x.shape)
        u8 = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)
        if rng.random() < 0.3:
            buf = io.BytesIO()
            Image.fromarray(u8).save(buf, format="JPEG", quality=rng.randrange(75, 96))
            u8 = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        out.append(u8.astype(np.float32) / 255.0)
    return np.stack(out)


def pack(out_dir):
    """Write every photo as load_scales gives it, in JPEG (PACK_JPEG_QUALITY, full-resolution chroma), for
    COLDFRAME_PHOTOS: the split's photos as NAME.jpg (photo_name), the camera photos as camera-DIR--NAME.jpg, the
    largest of their larger scales as NAME@SHORT.jpg beside them, the extra photos as extra-NAME.jpg."""
    os.makedirs(out_dir, exist_ok=True)

    def save(img, stem):
        scale = min(img.shape[:2])
        quality = PACK_JPEG_QUALITY[scale > SHORT_SIDE]
        Image.fromarray(img).save(os.path.join(out_dir, packed_file(stem, scale)), quality=quality, subsampling=0)

    def save_scales(path, stem):
        # the photo and its largest scale: load_scales shrinks the ones between from that (a 1.5x area shrink of
        # the 1440 one, within a pixel of the size the original gives)
        imgs = load_scales(path)
        for img in imgs[:1] + imgs[1:][-1:]:
            save(img, stem)

    for p in photo_list():
        save_scales(p, photo_name(p))
    for p in camera_photo_files():
        save_scales(p, CAMERA_PREFIX + camera_photo_name(p).replace("/", "--"))
    # names and images from one list of the installed files (extra_photos alone would read a packed folder
    # under COLDFRAME_PHOTOS, in its own order)
    files = extra_photo_files()
    for p, img in zip(files, extra_photos(files)):
        save(img, EXTRA_PREFIX + os.path.splitext(os.path.basename(p))[0])


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3 or sys.argv[1] != "pack":
        raise SystemExit("usage: data.py pack DIR")
    pack(sys.argv[2])
