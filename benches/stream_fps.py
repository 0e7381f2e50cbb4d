"""Frames per second and peak memory of `coldframe stream deblur` at 640x480, for several worker counts.

    python3 benches/stream_fps.py [--frames 48] [--bin target/release/coldframe]

Feeds the same Y4M clip (ffmpeg testsrc, 640x480) to the binary for each model / steps / workers setting and
reports frames per second (wall clock, whole pipeline: parse, colour conversion, restore, write) over the run and
in the steady state (start-up excluded: see main), and the peak resident memory of the coldframe process (GNU
time's %M).

Beside it, for each model and step count, onnxruntime using all cores on one frame at a time (intra-op threads =
cores): `steps` network calls per 640x480 frame and nothing else (no parsing, colour conversion, blur or
writing, which favours it), and the ratio of coldframe's steady fps with one worker per core to that. Each figure
is the best of --rounds rounds, which alternate the two sides (a shared machine only ever slows a run down).
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


def coldframe_run(binary, clip, model, steps, workers):
    """(wall seconds, peak RSS KiB) of one `coldframe stream deblur` over the clip."""
    # GNU time reports the peak RSS: a child forked from this process would start its high-water mark at this
    # process's own size (onnxruntime loaded: 160+ MiB).
    with open(clip, "rb") as fin, open(os.devnull, "wb") as fout:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "stream", "deblur", "--format", "y4m",
                            "--severity", "3", "--steps", str(steps), "--model", model, "--workers", str(workers)],
                           stdin=fin, stdout=fout, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
    assert p.returncode == 0, f"coldframe failed for {model} S={steps} K={workers}: {p.stderr}"
    return wall, int(p.stderr.strip().splitlines()[-1])


def clip_of(tmp, frames):
    path = os.path.join(tmp, f"clip{frames}.y4m")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25", "-frames:v",
                    str(frames), "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", path], check=True)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--steps", default="1,4")
    ap.add_argument("--models", default="deblur-f32,deblur-int8")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        print(f"model\tsteps\tworkers\tfps over the run\tsteady fps\tms_per_frame (steady)\tpeak_rss_MiB"
              f"\t({args.frames} frames 640x480, {cores} cores)")
        for model in args.models.split(","):
            for steps in map(int, args.steps.split(",")):
                workers = list(map(int, args.workers.split(",")))
                best = {k: (0.0, 0.0, 0) for k in workers}
                ofps = 0.0
                # Rounds alternate coldframe and onnxruntime, so a slow spell of this shared machine hits both
                # sides alike; each figure is the best of its rounds (a shared machine only ever slows a run).
                for _ in range(args.rounds):
                    for k in workers:
                        # Steady rate: the frames after each worker's first one, over the time they added. A clip
                        # of k frames pays what a longer one pays once (process start, each worker inflating its
                        # model and building its plan, one frame each); onnxruntime's figure likewise excludes its
                        # session creation and first run. A camera stream pays the start once.
                        for n in (k, args.frames):
                            if n not in clips:
                                clips[n] = clip_of(tmp, n)
                        short, full = clips[k], clips[args.frames]
                        w_short, _ = coldframe_run(args.bin, short, model, steps, k)
                        w_full, rss = coldframe_run(args.bin, full, model, steps, k)
                        run_fps, steady, peak = best[k]
                        best[k] = (max(run_fps, args.frames / w_full),
                                   max(steady, (args.frames - k) / max(w_full - w_short, 1e-9)), max(peak, rss))
                    ofps = max(ofps, ort_all_cores_fps(model, steps, args.frames))
                for k in workers:
                    run_fps, steady, rss = best[k]
                    print(f"{model}\t{steps}\t{k}\t{run_fps:.2f}\t{steady:.2f}\t{1000 / steady:.0f}\t{rss / 1024:.0f}")
                line = (f"{model}\t{steps}\tonnxruntime, {cores} threads, network only\t-\t{ofps:.2f}"
                        f"\t{1000 / ofps:.0f}\t-")
                if cores in best:
                    run_fps, steady, _ = best[cores]
                    line += (f"\tcoldframe {cores} workers / onnxruntime: {steady / ofps:.2f} steady "
                             f"({run_fps / ofps:.2f} over the run)")
                print(line)


if __name__ == "__main__":
    main()
