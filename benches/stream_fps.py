"""Frames per second and peak memory of `coldframe stream deblur` at 640x480, for several worker counts.

    python3 benches/stream_fps.py [--frames 24] [--bin target/release/coldframe]

Feeds the same Y4M clip (ffmpeg testsrc, 640x480) to the binary for each model / steps / workers setting and
reports frames per second (wall clock, whole pipeline: parse, colour conversion, restore, write) and the peak
resident memory of the coldframe process (wait4's ru_maxrss).
"""
import argparse
import os
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--steps", default="1,4")
    ap.add_argument("--models", default="deblur-f32,deblur-int8")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.y4m")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-frames:v",
                        str(args.frames), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", clip], check=True)
        print(f"model\tsteps\tworkers\tfps\tms_per_frame\tpeak_rss_MiB\t({args.frames} frames 640x480, {os.cpu_count()} cores)")
        for model in args.models.split(","):
            for steps in map(int, args.steps.split(",")):
                for k in map(int, args.workers.split(",")):
                    with open(clip, "rb") as fin, open(os.devnull, "wb") as fout:
                        t0 = time.perf_counter()
                        p = subprocess.Popen([args.bin, "stream", "deblur", "--format", "y4m", "--severity", "3",
                                              "--steps", str(steps), "--model", model, "--workers", str(k)],
                                             stdin=fin, stdout=fout, stderr=subprocess.DEVNULL)
                        _, status, usage = os.wait4(p.pid, 0)
                        wall = time.perf_counter() - t0
                    assert status == 0, f"coldframe failed for {model} S={steps} K={k}"
                    fps = args.frames / wall
                    print(f"{model}\t{steps}\t{k}\t{fps:.2f}\t{1000 / fps:.0f}\t{usage.ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
