"""tract vs onnxruntime on the same ONNX files and the same frames, one thread each, side by side in one run.

    python3 benches/compare_ort.py [--iters 15] [--rounds 3]

Each round runs `cargo bench --bench step_latency` (tract), then times onnxruntime (intra-op threads = 1,
sequential execution, all graph optimisations) on every restorer that bench times (the embedded ones and models/{camera-f32,deblur-f32,deblur-int8}.onnx)
with the frame that bench builds. Rounds alternate the engines so that a noisy stretch of a shared machine hits
both. Per model and size it prints each engine's best time over all rounds (interference only ever slows a run)
and median, the ratio of the best times (tract / onnxruntime; above 1: tract is slower), the multiply-adds per
second, and tract's share of this machine's peak: `cargo bench --bench peak`, tract-linalg's own best kernel on
a cache-resident matrix product, f32 for the float models and int8 for the quantized ones.
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


def cargo_bench(name, env=None):
    return subprocess.run(["cargo", "bench", "--bench", name], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def tract_round(iters):
    env = dict(os.environ, COLDFRAME_BENCH_ITERS=str(iters))
    times, extra = {}, []
    for line in cargo_bench("step_latency", env).splitlines()[1:]:
        eng, model, size, median, best, _ = line.split("\t")
        if eng == "tract":
            times[(model, size)] = (float(median), float(best))
        else:
            extra.append(line)
    return times, extra


def ort_times(model, size, iters):
    w, h = map(int, size.split("x"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # the quantizer leaves unused initializers: not worth a warning per run
    s = ort.InferenceSession(os.path.join(ROOT, "models", f"{model}.onnx"), so,
                             providers=["CPUExecutionProvider"])
    channels = s.get_inputs()[0].shape[1]
    feed = {"image": frame(w, h, channels), "t": np.array([12.0], np.float32)}
    if len(s.get_inputs()) == 3:  # a camera deblurrer's descriptor: its value does not change the work
        feed["blur"] = np.zeros((1, 5), np.float32)
    s.run(None, feed)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        s.run(None, feed)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def peaks():
    """Best GMAC/s of tract-linalg's kernels here, per kind (f32, int8), over the shapes the bench tries."""
    best = {}
    for line in cargo_bench("peak").splitlines()[1:]:
        kind, _shape, _kernel, gmacs = line.split("\t")
        best[kind] = max(best.get(kind, 0.0), float(gmacs))
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tract, ortt, extra = {}, {}, []
    for _ in range(args.rounds):
        times, extra = tract_round(args.iters)
        for key, (median, best) in times.items():
            tract.setdefault(key, []).append((median, best))
        for key in times:
            ortt.setdefault(key, []).extend(ort_times(*key, args.iters))
    peak = peaks()
    print(f"peak (tract-linalg, one thread): f32 {peak['f32']:.1f} GMAC/s, int8 {peak['int8']:.1f} GMAC/s")
    print("model\tsize\ttract_best_ms\tort_best_ms\tratio\ttract_median_ms\tort_median_ms"
          "\ttract_GMAC/s\tort_GMAC/s\ttract_share_of_peak")
    for (model, size), runs in tract.items():
        w, h = map(int, size.split("x"))
        path = os.path.join(ROOT, "models", f"{model}.onnx")
        macs = float({p.key: p.value for p in onnx.load(path).metadata_props}["macs_per_pixel"])
        tbest = min(b for _, b in runs)
        tmed = float(np.median([m for m, _ in runs]))
        obest = min(ortt[(model, size)])
        omed = float(np.median(ortt[(model, size)]))
        g = lambda ms: macs * w * h / (ms * 1e-3) / 1e9  # noqa: E731
        kind = "int8" if "int8" in model else "f32"
        print(f"{model}\t{size}\t{tbest:.2f}\t{obest:.2f}\t{tbest / obest:.2f}\t{tmed:.2f}\t{omed:.2f}"
              f"\t{g(tbest):.2f}\t{g(obest):.2f}\t{g(tbest) / peak[kind]:.0%}")
    for line in extra:
        print(line)


if __name__ == "__main__":
    main()
