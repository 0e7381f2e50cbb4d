"""Soak: many frames through `coldframe stream`, checking that none is lost, duplicated or reordered, and that
memory stays flat.

    python benches/soak.py [--frames 10000] [--workers 2] [--task deblur|inpaint] [--bin target/release/coldframe]

Each input frame is tests/data/sample.png (320x240) shifted by the frame number, with the frame number written
into its top rows as 16 black/white 24x8 blocks (big enough to survive restoration). The frames go in as raw
RGB24 and come out as raw RGB24; every output frame's number is read back from its blocks and must be exactly
0, 1, 2, ... . The binary's resident memory (VmRSS) is sampled every half second. Prints a summary and writes
the RSS trace as TSV next to --out.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
W, H, BITS, BW, BH = 320, 240, 16, 20, 8


def frame(base, i):
    f = np.roll(base, (i % 17, (3 * i) % 29), axis=(0, 1)).copy()
    for b in range(BITS):
        f[:BH, b * BW : (b + 1) * BW] = 255 if (i >> b) & 1 else 0
    return f


def read_number(f):
    bits = [f[2 : BH - 2, b * BW + 4 : (b + 1) * BW - 4].mean() > 127 for b in range(BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--task", default="deblur", choices=["deblur", "inpaint"])
    ap.add_argument("--steps", type=int, default=0, help="0: the model's default")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "coldframe"))
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "soak_rss.tsv"))
    args = ap.parse_args()
    base = np.asarray(Image.open(os.path.join(ROOT, "tests", "data", "sample.png")).convert("RGB"))
    assert base.shape == (H, W, 3)
    cmd = [args.bin, "stream", args.task, "--format", "rgb24", "--size", f"{W}x{H}", "--workers", str(args.workers)]
    if args.task == "inpaint":
        cmd += ["--mask", os.path.join(ROOT, "tests", "data", "sample_mask.png")]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    trace, done = [], threading.Event()
    t0 = time.time()

    def feed():
        for i in range(args.frames):
            p.stdin.write(frame(base, i).tobytes())
        p.stdin.close()

    def sample_rss():
        while not done.is_set():
            r = rss_kib(p.pid)
            if r is not None:
                trace.append((time.time() - t0, r))
            time.sleep(0.5)

    threading.Thread(target=feed, daemon=True).start()
    threading.Thread(target=sample_rss, daemon=True).start()
    n, bad, size = 0, [], W * H * 3
    while True:
        buf = p.stdout.read(size)
        if not buf:
            break
        if len(buf) != size:
            bad.append(f"partial frame of {len(buf)} bytes after {n}")
            break
        got = read_number(np.frombuffer(buf, np.uint8).reshape(H, W, 3))
        if got != n and len(bad) < 10:
            bad.append(f"output frame {n} carries number {got}")
        n += 1
    err = p.stderr.read().decode()
    rc = p.wait()
    done.set()
    elapsed = time.time() - t0
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write("seconds\trss_kib\n")
        fh.writelines(f"{t:.1f}\t{r}\n" for t, r in trace)
    rss = [r for _, r in trace]
    warm = [r for t, r in trace if t > 0.1 * elapsed] or rss
    print(f"frames in {args.frames}, out {n}, exit {rc}, {elapsed:.0f} s, {n / elapsed:.1f} fps")
    print(f"RSS: first {rss[0] if rss else 0} KiB, after warm-up min {min(warm)} / max {max(warm)} KiB, "
          f"last {rss[-1] if rss else 0} KiB; growth over the last 90%: {max(warm) - min(warm)} KiB")
    print("stderr tail:", err.strip().splitlines()[-1] if err.strip() else "")
    if bad or n != args.frames or rc != 0:
        print("FAILED:", *bad, sep="\n  ")
        sys.exit(1)
    print("every frame out once, in order")


if __name__ == "__main__":
    main()
