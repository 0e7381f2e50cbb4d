"""Peak memory and time of `coldframe deblur` on one camera-size still: tiled against whole, 1 worker against 2.

    python3 benches/still_tiles.py [--size 4056x3040] [--models deblur-f32,deblur-int8] [--steps 2] [--rounds 3]

Writes a still of the size (the sample photo scaled up, JPEG, as a camera writes it), then for each model runs
the binary side by side, alternating in every round (a shared machine only ever slows a run down, so each
figure is the best of the rounds):
- `--workers 1 --tile 0` (the whole frame at once, as before tiling) and `--workers 1` (default tiles): peak
  resident memory (GNU time's %M) and wall time;
- `--workers 1` and `--workers 2` with default tiles: the speed-up of every core on one still.
It also checks that the tiled output is within one 8-bit level of the whole-frame output, and says how many
samples differ. The int8 models are slow on an x86 CPU without AVX-512 VNNI (tract's int8 kernel there is
scalar): give them a smaller --size there.
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run(binary, args):
    """(wall seconds, peak RSS MiB) of one run."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M", binary, "deblur", *args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    assert p.returncode == 0, f"coldframe deblur {' '.join(args)} failed: {p.stderr}"
    wall, kib = p.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib) / 1024


def rgb(path):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).astype(np.int16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="4056x3040")
    ap.add_argument("--models", default="deblur-f32,deblur-int8")
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    args = ap.parse_args()
    w, h = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        still = os.path.join(tmp, "still.jpg")
        subprocess.run(["ffmpeg", "-v", "error", "-i", os.path.join(ROOT, "tests", "data", "sample.png"), "-vf",
                        f"scale={w}:{h}:flags=bicubic", "-q:v", "2", still], check=True)
        print("model\tsetting\tbest_wall_s\tbest_peak_MiB")
        for model in args.models.split(","):
            base = ["--model", model, "--steps", str(args.steps), "--severity", "2"]
            settings = {
                "whole, 1 worker": base + ["--workers", "1", "--tile", "0"],
                "tiled, 1 worker": base + ["--workers", "1"],
                "tiled, 2 workers": base + ["--workers", "2"],
            }
            best = {k: (float("inf"), float("inf")) for k in settings}
            for _ in range(args.rounds):
                for name, extra in settings.items():
                    out = os.path.join(tmp, name.replace(", ", "-").replace(" ", "") + ".png")
                    wall, peak = run(args.bin, extra + [still, out])
                    best[name] = (min(best[name][0], wall), min(best[name][1], peak))
            for name, (wall, peak) in best.items():
                print(f"{model}\t{name}\t{wall:.2f}\t{peak:.1f}")
            one, two = best["tiled, 1 worker"][0], best["tiled, 2 workers"][0]
            print(f"{model}\tspeed-up, 2 workers over 1\t{one / two:.2f}")
            whole = rgb(os.path.join(tmp, "whole-1worker.png"))
            tiled = rgb(os.path.join(tmp, "tiled-1worker.png"))
            diff = np.abs(whole - tiled)
            print(f"{model}\ttiled vs whole\tmax {diff.max()} level(s), {np.count_nonzero(diff)} of {diff.size}"
                  " samples differ")


if __name__ == "__main__":
    main()
