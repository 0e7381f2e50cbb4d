"""tract vs onnxruntime on the same ONNX files and the same frames, one thread each, in one run.

    python3 benches/compare_ort.py [--iters 15]

Runs `cargo bench --bench step_latency` (tract), then times onnxruntime (intra-op threads = 1, sequential
execution, all graph optimisations) on every embedded model (models/{deblur,inpaint}-{f32,int8}.onnx) with the
frame that bench builds, and
prints both with the ratio tract / onnxruntime (above 1: tract is slower).
"""
import argparse
import os
import subprocess
import time

import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def frame(w, h, channels):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([((x * 7 + y * 13 + c * 29) % 256) / 255.0 for c in range(3)])
    if channels == 3:
        return rgb[None].astype(np.float32)
    hole = (x >= 3 * w // 8) & (x < 5 * w // 8) & (y >= 3 * h // 8) & (y < 5 * h // 8)
    return np.concatenate([np.where(hole, 0.5, rgb), hole[None]])[None].astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=15)
    args = ap.parse_args()
    env = dict(os.environ, COLDFRAME_BENCH_ITERS=str(args.iters))
    out = subprocess.run(["cargo", "bench", "--bench", "step_latency"], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    tract = {}
    for line in out.splitlines()[1:]:
        eng, model, size, ms, _ = line.split("\t")
        if eng == "tract":
            tract[(model, size)] = float(ms)
    print("model\tsize\ttract_ms\tort_ms\tratio\ttract_GMAC/s\tort_GMAC/s")
    for (model, size), tms in tract.items():
        w, h = map(int, size.split("x"))
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3  # the quantizer leaves unused initializers: not worth a warning per run
        path = os.path.join(ROOT, "models", f"{model}.onnx")
        macs = float({p.key: p.value for p in onnx.load(path).metadata_props}["macs_per_pixel"])
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        channels = s.get_inputs()[0].shape[1]
        feed = {"image": frame(w, h, channels), "t": np.array([12.0], np.float32)}
        s.run(None, feed)
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            s.run(None, feed)
            times.append((time.perf_counter() - t0) * 1e3)
        oms = float(np.median(times))
        g = lambda ms: macs * w * h / (ms * 1e-3) / 1e9  # noqa: E731
        print(f"{model}\t{size}\t{tms:.2f}\t{oms:.2f}\t{tms / oms:.2f}\t{g(tms):.2f}\t{g(oms):.2f}")
    for line in out.splitlines():
        if line.startswith("rust\t"):
            print(line)


if __name__ == "__main__":
    main()
