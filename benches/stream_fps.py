"""Frames per second and peak memory of `coldframe stream deblur` at 640x480, for several worker counts.

    python3 benches/stream_fps.py [--frames 48] [--bin target/release/coldframe]

Feeds the same Y4M clip (ffmpeg testsrc, 640x480) to the binary for each model / steps / workers setting and
reports frames per second (wall clock, whole pipeline: parse, colour conversion, restore, write) and the peak
resident memory of the coldframe process (GNU time's %M).

Beside it, for each model and step count, onnxruntime using all cores on one frame at a time (intra-op threads =
cores): `steps` network calls per 640x480 frame and nothing else (no parsing, colour conversion, blur or
writing, which favours it), and the ratio of coldframe's fps with one worker per core to that. Each figure is
the best of --rounds runs (a shared machine only ever slows a run down).
"""
import argparse
import os
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def ort_all_cores_fps(model, steps, frames):
    so = ort.SessionOptions()
    so.intra_op_num_threads = os.cpu_count()
    so.log_severity_level = 3
    s = ort.InferenceSession(os.path.join(ROOT, "models", f"{model}.onnx"), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, 480, 640), dtype=np.float32)
    feed = {"image": x, "t": np.array([12.0], np.float32)}
    s.run(None, feed)
    t0 = time.perf_counter()
    for _ in range(frames):
        for step in range(steps):
            feed["t"][0] = 12.0 - step
            feed["image"] = s.run(None, feed)[0]
    return frames / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    # Long enough that starting the process, inflating the model and building its plans (once per worker) are a
    # small part of the run, as in a camera stream.
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--steps", default="1,4")
    ap.add_argument("--models", default="deblur-f32,deblur-int8")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.y4m")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-frames:v",
                        str(args.frames), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", clip], check=True)
        print(f"model\tsteps\tworkers\tfps\tms_per_frame\tpeak_rss_MiB\t({args.frames} frames 640x480, {os.cpu_count()} cores)")
        for model in args.models.split(","):
            for steps in map(int, args.steps.split(",")):
                for k in map(int, args.workers.split(",")):
                    runs = []
                    for _ in range(args.rounds):
                        # GNU time reports the peak RSS: a child forked from this process would start its
                        # high-water mark at this process's own size (onnxruntime loaded: 160+ MiB).
                        with open(clip, "rb") as fin, open(os.devnull, "wb") as fout:
                            t0 = time.perf_counter()
                            p = subprocess.run(["/usr/bin/time", "-f", "%M", args.bin, "stream", "deblur", "--format",
                                                "y4m", "--severity", "3", "--steps", str(steps), "--model", model,
                                                "--workers", str(k)],
                                               stdin=fin, stdout=fout, stderr=subprocess.PIPE, text=True)
                            wall = time.perf_counter() - t0
                        assert p.returncode == 0, f"coldframe failed for {model} S={steps} K={k}: {p.stderr}"
                        runs.append((args.frames / wall, int(p.stderr.strip().splitlines()[-1])))
                    fps = max(f for f, _ in runs)
                    rss = max(r for _, r in runs)
                    print(f"{model}\t{steps}\t{k}\t{fps:.2f}\t{1000 / fps:.0f}\t{rss / 1024:.0f}")
                    if k == os.cpu_count():
                        all_cores = fps
                ofps = max(ort_all_cores_fps(model, steps, args.frames) for _ in range(args.rounds))
                print(f"{model}\t{steps}\tonnxruntime, {os.cpu_count()} threads, network only\t{ofps:.2f}"
                      f"\t{1000 / ofps:.0f}\t-\tcoldframe {os.cpu_count()} workers / onnxruntime: "
                      f"{all_cores / ofps:.2f}")


if __name__ == "__main__":
    main()
