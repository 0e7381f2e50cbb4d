"""L1 training of a cold-diffusion restorer, with EMA weights and checkpoints that resume.

    python models/recipe/train.py --task deblur --out models/work/deblur --steps 40000 [--minutes 70]
    python models/recipe/train.py --task inpaint --out models/work/inpaint --steps 16000
    # the GPU runs of models/inpaint.md (photos packed by `data.py pack DIR` where the Debian packages are):
    COLDFRAME_PHOTOS=DIR python models/recipe/train.py --task inpaint --out OUT --init CKPT --mask-scale frame \
        --workers 15 --crop 256 --batch 32 --steps 200000 --minutes 7 --loss-norm sample --lr 1e-3
    # the next one, prepared for one device lease with the camera restorer and the estimator: device_run.sh

Deblur: x_t = D_blur(x0, t), L1 on the whole frame. Inpaint: a random mask (masks.random_mask), x_t = the frame
with the part of the mask still missing at step t (degrade.missing_at) filled by `--fill` (degrade.mask_degrade:
the sor fill of the known pixels, the smooth one as version 3 had, push-pull alone as version 2 had, or a grey level
as the first models had),
plus that mask as a fourth channel; L1 inside the missing part only (the binary copies every other pixel from
the input).

Re-running the same command resumes from <out>/last.pt. --minutes stops cleanly (checkpoint written) after that
much wall time in this run, so a long run can be spread over several sessions. Runs on CUDA when present.
"""
import argparse
import copy
import functools
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import blur_mix  # noqa: E402
import camera_blur  # noqa: E402
import data  # noqa: E402
import degrade  # noqa: E402
import fill_torch  # noqa: E402
import masks  # noqa: E402
from net import ColdUNet, macs_per_pixel, param_count  # noqa: E402


def make_batch(crops, n, T, rng, device):
    x0 = torch.from_numpy(crops.batch(n).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    t = torch.tensor([rng.randint(1, T) for _ in range(n)])
    xt = degrade.blur_t(x0, t)
    xt = data.camera_artefacts(xt.permute(0, 2, 3, 1).numpy(), rng)
    xt = torch.from_numpy(xt).permute(0, 3, 1, 2).contiguous()
    return xt.to(device), t.float().to(device), x0.to(device)


# Camera blur is cut from a crop this much larger on each side, so that the training frames hold the blur of a
# scene that goes on past them (a real frame's), not reflect padding: the longest trail reaches 13 pixels, the
# widest Gaussian 15.
CAMERA_MARGIN = 16


def make_camera_batch(crops, n, rng, device="cpu", t_fixed=None, artefacts=True):
    """(x_t, t, descriptor, x0): crops of crops.crop - 2 CAMERA_MARGIN pixels, each blurred by a random case of
    blur_mix (family, extent step, direction, shake shape), then camera artefacts on the input only."""
    big = torch.from_numpy(crops.batch(n).astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    cases = [blur_mix.random_case(rng, t_fixed) for _ in range(n)]
    m = CAMERA_MARGIN
    xt = camera_blur.blur_torch(big, [c.psf() for c in cases])[:, :, m:-m, m:-m]
    x0 = big[:, :, m:-m, m:-m].contiguous()
    if artefacts:
        xt = torch.from_numpy(data.camera_artefacts(xt.permute(0, 2, 3, 1).numpy(), rng)).permute(0, 3, 1, 2)
    t = torch.tensor([float(c.t) for c in cases])
    desc = torch.from_numpy(np.stack([c.descriptor() for c in cases]))
    return xt.contiguous().to(device), t.to(device), desc.to(device), x0.to(device)


def inpaint_arrays(crops, n, T, rng, t_fixed=None, artefacts=True, mask_scale="crop", fill=degrade.FILL):
    """One inpainting batch as arrays (what data-loader workers send): x_t's RGB float32 [N,3,H,W] (the frame as
    the camera gave it, noise / JPEG and 8-bit rounding on what the restorer sees, with the fill in the still-missing
    pixels; the target stays clean), the clean target u8 [N,H,W,3], the still-missing mask at t bool [N,H,W],
    t int [N]. fill None: the hole left as seen, for inpaint_tensors to fill."""
    x0 = crops.batch(n)
    seen = x0
    if artefacts:
        seen = np.round(data.camera_artefacts(x0.astype(np.float32) / 255.0, rng) * 255.0).astype(np.uint8)
    h, w = x0.shape[1:3]
    ms, ts = [], []
    for _ in range(n):
        if mask_scale == "frame":
            m = masks.frame_scale_mask(h, rng)
        else:
            m = masks.random_mask(h, w, rng)
        t = t_fixed if t_fixed is not None else rng.randint(1, T)
        ms.append(degrade.missing_at(degrade.depth2_fast(m), t, T))
        ts.append(t)
    if fill is None:  # filled on the training device (inpaint_tensors)
        rgb = seen.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
    else:
        rgb = np.stack([degrade.mask_degrade(s.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0), m,
                                             fill)[:3] for s, m in zip(seen, ms)])
    return rgb, x0, np.stack(ms), np.array(ts)


def inpaint_tensors(arrays, device, fill_here=False):
    """(x_t [N,4,H,W], t [N], x0 [N,3,H,W], missing [N,1,H,W]) on the device: x_t = degrade.mask_degrade of the
    seen frame. fill_here: the arrays' holes are unfilled (inpaint_arrays' fill None), and the sor fill is made
    here, on the device (fill_torch)."""
    rgb, x0, miss, t = (a if torch.is_tensor(a) else torch.from_numpy(np.asarray(a)) for a in arrays)
    rgb, x0, miss, t = (a.to(device, non_blocking=True) for a in (rgb, x0, miss, t))
    if fill_here:
        rgb = fill_torch.sor_fill(rgb, miss)
    miss = miss.unsqueeze(1).float()
    xt = torch.cat([rgb, miss], 1).contiguous(memory_format=torch.channels_last)
    return xt, t.float(), x0.permute(0, 3, 1, 2).float() / 255.0, miss


def make_inpaint_batch(crops, n, T, rng, device, t_fixed=None, artefacts=True, mask_scale="crop", fill=degrade.FILL):
    return inpaint_tensors(inpaint_arrays(crops, n, T, rng, t_fixed, artefacts, mask_scale, fill), device)


class WorkerBatches(torch.utils.data.IterableDataset):
    """Endless batches, made by data-loader worker processes: `make(crops, rng=rng)` gives one batch on the CPU (mask
    drawing, distance transforms, blur kernels and JPEG are CPU work: on a GPU they, not the net, set the pace).
    Each worker draws from its own seeded generator, so a run is reproducible for a given worker count, but a
    resumed run does not replay the same batches."""

    def __init__(self, crops, seed, make):
        self.crops, self.seed, self.make = crops, seed, make

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        torch.set_num_threads(1)
        rng = random.Random(self.seed * 1009 + wid)
        crops = self.crops.reseeded(rng.randrange(1 << 30))
        while True:
            yield self.make(crops, rng=rng)


def worker_batches(crops, seed, make, workers, device):
    loader = torch.utils.data.DataLoader(WorkerBatches(crops, seed, make), batch_size=None, num_workers=workers,
                                         pin_memory=device == "cuda", prefetch_factor=4)
    return iter(loader)


def onnx_weights(path):
    """An exported model's weights as a checkpoint's "ema" state dict: export.py names every initializer after the
    parameter it holds (net.<layer>.weight / .bias, under the Exported wrapper)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    weights = {i.name[len("net."):]: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in model.graph.initializer if i.name.startswith("net.")}
    if not weights:
        raise SystemExit(f"{path}: no net.* initializers (an int8 model? --init takes the f32 export)")
    return {"ema": weights, "step": "exported"}


def widen_stem(init, fresh):
    """init's weights for a net whose stem takes more constant channels (the camera deblurrer started from the
    Gaussian one): the extra input channels of the stem start at zero, so the start computes what init did."""
    out = dict(init)
    w, f = init["stem.weight"], fresh["stem.weight"]
    if w.shape != f.shape:
        wide = torch.zeros_like(f)
        wide[:, : w.shape[1]] = w
        out["stem.weight"] = wide
    return out


def psnr_in(a, b, m):
    mse = (((a.clamp(0, 1) - b) ** 2) * m).sum().item() / max(3 * m.sum().item(), 1.0)
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def psnr(a, b):
    mse = torch.mean((a.clamp(0, 1) - b) ** 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="deblur", choices=["deblur", "inpaint", "camera"],
                    help="camera: the deblurrer of camera blur (blur_mix.py), told the blur's descriptor")
    ap.add_argument("--out", default="models/work/deblur")
    ap.add_argument("--steps", type=int, default=40000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--minutes", type=float, default=0.0, help="stop after this much wall time (0: run to --steps)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init", default="",
                    help="a fresh run only: start from this checkpoint's EMA weights, or from an exported f32 ONNX "
                         "model's weights (so a fresh machine can go on from the committed model)")
    ap.add_argument("--mask-scale", default="crop", choices=["crop", "frame"],
                    help="inpaint: masks drawn for the crop itself, or for a whole frame (short side 240-720) "
                         "and seen through the crop (masks.frame_scale_mask)")
    ap.add_argument("--workers", type=int, default=0,
                    help="inpaint and camera: data-loader worker processes (0: inline)")
    ap.add_argument("--save-every", type=int, default=1000)
    ap.add_argument("--loss-norm", default="batch", choices=["batch", "sample"],
                    help="inpaint: average the hole L1 over the batch's missing pixels (batch: big holes "
                         "dominate) or per sample, then over samples (sample: every mask counts the same)")
    ap.add_argument("--fill", default=degrade.FILL,
                    help="inpaint: what the still-missing pixels hold in x_t: sor (push-pull fill of the known "
                         "pixels relaxed to a smooth surface by over-relaxation), smooth (the same by Jacobi sweeps, "
                         "version 3), pyramid (push-pull alone, version 2; all "
                         "degrade.pyramid_fill) or a grey level such as 0.5 (the first models)")
    ap.add_argument("--fill-on", default="loader", choices=["loader", "device"],
                    help="inpaint, sor fill: made by the data loader (numpy, the reference) or on the training "
                         "device (fill_torch: the same to float rounding; on a GPU the loaders then only draw masks)")
    ap.add_argument("--l2", type=float, default=0.0,
                    help="inpaint: weight of a squared-error term added to the L1 inside the hole (0: L1 alone)")
    ap.add_argument("--augment", action="store_true",
                    help="training crops also at up to half scale, turned by quarter turns and with the colour "
                         "channels permuted (data.Crops): against learning the few training photos by heart")
    ap.add_argument("--camera-photos", action="store_true",
                    help="train and validate also on data.camera_photo_files (their own split, data.split)")
    ap.add_argument("--extra-photos", action="store_true",
                    help="train also on data.extra_photos (palapeli-data, scikit-image, scikit-learn, matplotlib); "
                         "the validation photos stay the same")
    args = ap.parse_args()
    if args.fill not in degrade.RELAX_OF_FILL:
        float(args.fill)  # a grey level, or argparse's caller made a typo
    fill_here = args.task == "inpaint" and args.fill_on == "device"
    if fill_here and args.fill != "sor":
        raise SystemExit("--fill-on device makes the sor fill only")

    torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.out, exist_ok=True)
    inpaint = args.task == "inpaint"
    camera = args.task == "camera"
    T = degrade.T_MASK if inpaint else degrade.T_BLUR
    in_ch = 4 if inpaint else 3
    cond = blur_mix.DESCRIPTOR if camera else 0
    net = ColdUNet(in_ch=in_ch, T=T, cond=cond).to(device, memory_format=torch.channels_last)
    ema = copy.deepcopy(net).eval()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    step, trained_s = 0, 0.0
    ck = os.path.join(args.out, "last.pt")
    rng = random.Random(1)
    if not os.path.exists(ck) and args.init:
        st = onnx_weights(args.init) if args.init.endswith(".onnx") else \
            torch.load(args.init, map_location=device, weights_only=False)
        init = widen_stem(st["ema"], net.state_dict())
        net.load_state_dict(init)
        ema.load_state_dict(init)
        print(f"initialised from {args.init} (step {st['step']})", flush=True)
    if os.path.exists(ck):
        st = torch.load(ck, map_location=device, weights_only=False)
        net.load_state_dict(st["net"])
        ema.load_state_dict(st["ema"])
        opt.load_state_dict(st["opt"])
        step, trained_s = st["step"], st["trained_s"]
        rng.setstate(st["rng"])
        print(f"resumed at step {step} ({trained_s / 60:.1f} min trained)", flush=True)

    train_photos, val_photos = data.split(camera=args.camera_photos)
    if args.camera_photos:
        images = [im for p in train_photos for im in data.load_scales(p)]
    else:
        images = [data.load_photo(p) for p in train_photos]
    if args.extra_photos:
        images += data.extra_photos()
    margin = 2 * CAMERA_MARGIN if camera else 0
    crops = data.Crops(None, args.crop + margin, seed=step, images=images, augment=args.augment)
    val = data.Crops(val_photos, (256 if args.mask_scale == "frame" else 128) + margin, seed=123)
    vrng = random.Random(7)
    if inpaint:
        # the fast distance transform must be the reference one (degrade.depth2) on the masks this run draws
        for i in range(20):
            m = masks.frame_scale_mask(args.crop, vrng) if args.mask_scale == "frame" else \
                masks.random_mask(args.crop, args.crop, vrng)
            assert (degrade.depth2_fast(m) == degrade.depth2(m)).all(), "cv2 and scipy distance transforms differ"
        # the sampler's first (hardest) call: the whole mask missing, t = T
        vx, vt, vy, vm = make_inpaint_batch(val, 16, T, vrng, device, t_fixed=T, artefacts=False,
                                            mask_scale=args.mask_scale, fill=args.fill)
        vscore = lambda y: psnr_in(y, vy, vm)  # noqa: E731
        vbase = vscore(vx[:, :3])
    elif camera:
        # every family at t = 10 (defocus radius 4, motion 12.5 px, Gaussian sigma 2.5), told the true blur
        vx, vt, vd, vy = make_camera_batch(val, 16, vrng, device, t_fixed=10)
        vscore = lambda y: psnr(y, vy)  # noqa: E731
        vbase = vscore(vx)
    else:
        vx, vt, vy = make_batch(val, 16, T, vrng, device)
        vt[:] = 12.0  # sigma 3
        vx = data.camera_artefacts(degrade.blur_t(vy.cpu(), vt.long()).permute(0, 2, 3, 1).numpy(), random.Random(3))
        vx = torch.from_numpy(vx).permute(0, 3, 1, 2).contiguous().to(device)
        vscore = lambda y: psnr(y, vy)  # noqa: E731
        vbase = vscore(vx)
    meta = {
        "photos_train": len(images),
        "photos_val": len(val_photos),
        "macs_per_pixel": macs_per_pixel(ColdUNet(in_ch=in_ch, T=T, cond=cond), in_ch, cond=cond),
        "params": param_count(net),
        "batch": args.batch,
        "crop": args.crop,
        "device": device,
        "threads": args.threads,
        "init": args.init,
        "loss_norm": args.loss_norm,
        "lr": args.lr,
        "mask_scale": args.mask_scale,
        "workers": args.workers,
        "minutes": args.minutes,
        "fill": args.fill if inpaint else None,
        "fill_on": args.fill_on if inpaint else None,
        "augment": args.augment,
        "l2": args.l2,
        "extra_photos": args.extra_photos,
        "camera_photos": args.camera_photos,
    }
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta), flush=True)

    start = time.time()
    log = open(os.path.join(args.out, "log.tsv"), "a")
    run_loss = 0.0

    def save():
        tmp = ck + ".tmp"
        torch.save({"net": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "trained_s": trained_s + time.time() - start, "rng": rng.getstate()}, tmp)
        os.replace(tmp, ck)

    # inpaint and camera batches are made on the CPU by make(crops, rng=rng), in worker processes or inline
    make, batches = None, None
    if inpaint:
        make = functools.partial(inpaint_arrays, n=args.batch, T=T, mask_scale=args.mask_scale,
                                 fill=None if fill_here else args.fill)
    elif camera:
        make = functools.partial(make_camera_batch, n=args.batch)
    if make is not None and args.workers > 0:
        batches = worker_batches(crops, 1 + step, make, args.workers, device)
    while step < args.steps:
        warm = min(1.0, (step + 1) / 300)
        # the cosine follows whichever of --steps and --minutes is further along, so a run cut by wall time
        # still ends at the low learning rate
        done = step / args.steps
        if args.minutes:
            done = max(done, (time.time() - start) / (args.minutes * 60))
        cos = 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
        for g in opt.param_groups:
            g["lr"] = args.lr * warm * (0.02 + 0.98 * cos)
        if inpaint:
            batch = next(batches) if batches is not None else make(crops, rng=rng)
            xt, t, x0, miss = inpaint_tensors(batch, device, fill_here)
            diff = net(xt, t) - x0
            # --l2: a squared-error term beside the paper's L1. L1 aims at the median of what the hole may hold,
            # PSNR rewards the mean, and the two part where a flat background carries sparse detail
            err = (diff.abs() + args.l2 * diff * diff) * miss
            if args.loss_norm == "sample":
                loss = (err.sum((1, 2, 3)) / (3 * miss.sum((1, 2, 3)))).mean()
            else:
                loss = err.sum() / (3 * miss.sum())
        elif camera:
            batch = next(batches) if batches is not None else make(crops, rng=rng)
            xt, t, desc, x0 = (a.to(device, non_blocking=True) for a in batch)
            loss = (net(xt, t, desc) - x0).abs().mean()
        else:
            xt, t, x0 = make_batch(crops, args.batch, T, rng, device)
            loss = (net(xt, t) - x0).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(d).add_(p.detach(), alpha=1 - d)
        step += 1
        run_loss += loss.item()
        if step % 250 == 0:
            with torch.no_grad():
                vp = vscore(ema(vx, vt, vd) if camera else ema(vx, vt))
            el = trained_s + time.time() - start
            line = f"{step}\t{run_loss / 250:.5f}\t{vp:.3f}\t{vbase:.3f}\t{el:.0f}"
            print(line, flush=True)
            log.write(line + "\n")
            log.flush()
            run_loss = 0.0
        if step % args.save_every == 0:
            save()
        if args.minutes and time.time() - start > args.minutes * 60:
            break
    save()
    print(f"stopped at step {step}", flush=True)


if __name__ == "__main__":
    main()
