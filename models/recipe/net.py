"""The edge restorer: R(x_t, t) -> x0.

Shape chosen for ~10 k multiply-adds per pixel per step (docs/design.md §4): a space-to-depth stem takes the frame to
half resolution, a 3-level U-Net works at 1/2, 1/4 and 1/8, pixel-shuffle upsampling, additive skips (cheaper
than concatenation), ReLU, no normalisation (a tile equals the whole frame away from its borders), and a global
residual: x0 = clip(x_t + correction). The step comes in as a scalar input `t` and enters the net as a constant
channel t / T beside the space-to-depth image: 54 MAC/px (0.5% of the budget) and only a Mul and a Concat in
the graph, both of which tract folds into its plan; a scalar embedding (MLP -> per-channel biases) was not built.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def space_to_depth(x, r):
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // r, r, w // r, r)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h // r, w // r)


def depth_to_space(x, r):
    n, c, h, w = x.shape
    x = x.reshape(n, c // (r * r), r, r, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(n, c // (r * r), h * r, w * r)


def conv(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1)


class ColdUNet(nn.Module):
    STRIDE = 8  # s2d(2) then two stride-2 levels

    def __init__(self, in_ch=3, c1=24, c2=48, c3=96, T=20, cond=0):
        super().__init__()
        self.T = T
        self.in_ch = in_ch
        self.cond = cond
        self.stem = conv(in_ch * 4 + 1 + cond, c1)
        self.enc1 = conv(c1, c1)
        self.down1 = conv(c1, c2, stride=2)
        self.enc2 = conv(c2, c2)
        self.down2 = conv(c2, c3, stride=2)
        self.mid1 = conv(c3, c3)
        self.mid2 = conv(c3, c3)
        self.up2 = nn.Conv2d(c3, c2 * 4, 1)
        self.dec2 = conv(c2, c2)
        self.up1 = nn.Conv2d(c2, c1 * 4, 1)
        self.dec1 = conv(c1, c1)
        self.head = conv(c1, 3 * 4)

    def forward(self, image, t, blur=None):
        # t: [N] or [1] float step index; broadcast as a constant channel at half resolution. blur: [N, cond], the
        # camera deblurrer's blur descriptor (blur_mix.py), each value one more constant channel.
        rgb = image[:, :3]
        h = space_to_depth(image, 2)
        ones = torch.ones_like(h[:, :1])
        chans = [h, ones * (t.view(-1, 1, 1, 1) / self.T)]
        if self.cond:
            chans.append(ones * blur.view(-1, self.cond, 1, 1))
        h = torch.cat(chans, 1)
        a = F.relu(self.stem(h))
        e1 = F.relu(self.enc1(a)) + a
        b = F.relu(self.down1(e1))
        e2 = F.relu(self.enc2(b)) + b
        m = F.relu(self.down2(e2))
        m = F.relu(self.mid1(m)) + m
        m = F.relu(self.mid2(m)) + m
        d2 = depth_to_space(self.up2(m), 2) + e2
        d2 = F.relu(self.dec2(d2)) + d2
        d1 = depth_to_space(self.up1(d2), 2) + e1
        d1 = F.relu(self.dec1(d1)) + d1
        return rgb + depth_to_space(self.head(d1), 2)


class Exported(nn.Module):
    """What goes into the ONNX file: clamps x0 to [0, 1] (training sees the unclamped output)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image, t, blur=None):
        return torch.clamp(self.net(image, t, blur), 0.0, 1.0)


def macs_per_pixel(net: nn.Module, in_ch: int, size=256, cond=0) -> float:
    """Multiply-adds of every Conv2d for one frame, per input pixel (hooks count output elems x kernel volume)."""
    total = [0]

    def hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += out.numel() * k

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(1, in_ch, size, size), torch.zeros(1), torch.zeros(1, cond) if cond else None)
    for h in hs:
        h.remove()
    return total[0] / (size * size)


def param_count(net):
    return sum(p.numel() for p in net.parameters())
