#!/usr/bin/python3
"""Makes the int8 (static QDQ) variant of one of our float32 MobileNetV2 ONNX models, for ONNX Runtime's CPU provider.

    /usr/bin/python3 to_int8.py IN.onnx OUT.onnx [--calibration-images N] [--size S] [--ranges HOW] [--float-first-convs K]

Needs Debian's python3-onnx and python3-numpy (`apt-get install python3-onnx python3-numpy`), run as
/usr/bin/python3. There is no ONNX Runtime for Python here, so the script runs the float32 graph itself
(a small numpy evaluator for the ops these models contain) to calibrate. What it does:

1. folds the constant sub-graphs (the compact storage's Cast(codes) -> Gather(table) weight lookups) into float32
   initializers, each BatchNormalization into the Conv before it, and each zero Pad into the Conv after it;
2. runs that float32 graph on N calibration images the script makes itself (deterministic synthetic pictures:
   1/f "photo" noise, skin-toned blobs on gradients, flat-colour drawings, low- and high-key scenes; never the
   parity/test images) and records the min/max and a histogram (4096 bins, exact) of every tensor;
3. chooses each activation's range from its histogram (--ranges, default mse/percentile99.999): for a non-negative
   (ReLU6) tensor the range, shrunk from min/max by a common factor, whose expected squared error (rounding inside,
   clipping outside) is smallest; for a signed tensor (the linear bottlenecks' projections, the residual sums) the
   central 99.999% of the values, which clips the rare outliers that stretch min/max;
4. writes a QDQ model: uint8 activations (asymmetric, per tensor), int8 weights (symmetric, per output channel,
   [-127,127]) and int32 biases (scale = input scale x weight scale) around every Conv but the first K
   (--float-first-convs, default 3: MobileNetV2's stem and its first bottleneck's depthwise and projection, the
   layers whose 8-bit activations moved the scores most; at 112x112 they are a few % of the work and the float
   path there costs no measurable speed); a Conv followed by Clip(0,6) loses the Clip (its output's quantization
   range, clamped to [0,6] with zero point 0, saturates the same way; a float Conv keeps it); each Conv's bias is
   corrected for the mean shift its weights' rounding causes ((Wq - W) . E[x], with E[x] the calibration's
   per-channel input means: without it, the max |score difference| on held-out synthetic images was ~3x larger);
   the residual Adds get QDQ on their outputs too, so ONNX Runtime fuses them into QLinearConv / QLinearAdd. The
   global AveragePool averages the dequantized last Conv in float32, and the dense head (Gemm layers, tiny next to
   the convolutions), the logits and the Softmax stay float32, as do the input's Transpose (and MobileNetV2Mid's
   x*2-1).

Measured and not kept (models/MODEL_CARD.md has the figures): 300 calibration images instead of 100, min/max or
99.99th/99.9th-percentile ranges everywhere, leaving the last 1x1 Conv or the next 112x112 layer in float (the
latter slows int8 below 1.8x fp32), per-channel range equalization of the projections, and an empirical bias
correction of every layer's mean on the calibration images (it fits those images and hurt held-out ones).

Input `input` and output `probabilities` keep their names, float32 types and shapes. The same input always gives
the same bytes (the calibration ranges are rounded to 6 significant digits before they become scales, so the last
bits of a BLAS sum are unlikely to move them; the per-channel means likewise). The output records the sha256 of its
float32 source (metadata `fp32_source_sha256`), its calibration and its float32 convolutions (`float32_convs`), and
passes onnx.checker with full shape/type inference.
"""

import argparse
import hashlib
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
SUPPORTED = {"Transpose", "Mul", "Sub", "Add", "Conv", "BatchNormalization", "Clip", "Relu", "Pad", "AveragePool",
             "Flatten", "Gemm", "Softmax", "Identity"}
CONSTANT_OPS = {"Cast", "Gather", "Constant"}


# ---------------------------------------------------------------------------------------------------------------
# Calibration images (deterministic, made here; not the parity images)

def _hash_uniform(seed, count):
    """`count` floats in [0,1) from splitmix64 over (seed, index): the same on every numpy and machine."""
    with np.errstate(over="ignore"):
        z = (np.arange(count, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)) \
            * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


class _Random:
    def __init__(self, seed):
        self.seed, self.calls = seed, 0

    def uniform(self, count, low=0.0, high=1.0):
        self.calls += 1
        return low + (high - low) * _hash_uniform(self.seed * 1_000_003 + self.calls, count)


def _upsample(grid, size):
    """Bilinear (align-corners) upsampling of a [g,g,...] grid to [size,size,...]."""
    g = grid.shape[0]
    pos = np.linspace(0, g - 1, size)
    i0 = np.minimum(np.floor(pos).astype(int), g - 2)
    f = pos - i0
    rows = grid[i0] * (1 - f)[:, None, *([None] * (grid.ndim - 2))] + grid[i0 + 1] * f[:, None, *([None] * (grid.ndim - 2))]
    cols = rows[:, i0] * (1 - f)[None, :, *([None] * (grid.ndim - 2))] + rows[:, i0 + 1] * f[None, :, *([None] * (grid.ndim - 2))]
    return cols


def _noise(rng, size, channels, octaves=(4, 8, 16, 32, 64)):
    out = np.zeros((size, size, channels))
    for k, g in enumerate(octaves):
        out += _upsample(rng.uniform((g + 1) * (g + 1) * channels, -1, 1).reshape(g + 1, g + 1, channels), size) / (k + 1)
    return out / sum(1 / (k + 1) for k in range(len(octaves)))


SKIN = np.array([[0.96, 0.80, 0.69], [0.91, 0.68, 0.55], [0.78, 0.55, 0.42], [0.55, 0.37, 0.26], [0.36, 0.22, 0.15],
                 [0.98, 0.87, 0.78]])


def calibration_image(index, size):
    """One synthetic picture, float32 [size,size,3] in [0,1] quantised to 8-bit levels (v/255, as decoded images are)."""
    rng = _Random(index + 1)
    kind = index % 5
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    if kind == 0:  # "photo": 1/f noise around a random colour, with luminance structure
        base = rng.uniform(3, 0.15, 0.85)
        lum = _noise(rng, size, 1)
        chroma = _noise(rng, size, 3, octaves=(2, 4, 8))
        img = base + 0.45 * lum + 0.2 * chroma
    elif kind == 1:  # skin-toned blobs on a gradient background
        a, b = rng.uniform(3), rng.uniform(3)
        t = rng.uniform(1)[0]
        img = a * (1 - (t * xx + (1 - t) * yy))[..., None] + b * (t * xx + (1 - t) * yy)[..., None]
        blobs = int(2 + rng.uniform(1)[0] * 5)
        for _ in range(blobs):
            cx, cy, rx, ry, tone, light = rng.uniform(6)
            colour = SKIN[int(tone * len(SKIN))] * (0.7 + 0.5 * light)
            d = ((xx - cx) / (0.08 + 0.35 * rx)) ** 2 + ((yy - cy) / (0.08 + 0.35 * ry)) ** 2
            mask = np.clip(1.5 - d, 0, 1)[..., None]
            shade = 0.85 + 0.15 * np.clip(1 - d, 0, 1)[..., None]
            img = img * (1 - mask) + colour * shade * mask
        img = img + 0.04 * _noise(rng, size, 3, octaves=(32, 64))
    elif kind == 2:  # flat-colour "drawing": rectangles, discs and stripes with hard edges
        img = np.broadcast_to(rng.uniform(3), (size, size, 3)).copy()
        for _ in range(int(4 + rng.uniform(1)[0] * 10)):
            shape, cx, cy, w, h = rng.uniform(5)
            colour = rng.uniform(3)
            if shape < 0.4:
                mask = (np.abs(xx - cx) < w * 0.3) & (np.abs(yy - cy) < h * 0.3)
            elif shape < 0.8:
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (0.05 + 0.25 * w) ** 2
            else:
                mask = np.sin((xx * np.cos(6 * h) + yy * np.sin(6 * h)) * (10 + 60 * w)) > 0.3
            img[mask] = colour
            edge = mask ^ np.roll(mask, 1, axis=0) | mask ^ np.roll(mask, 1, axis=1)
            img[edge] = 0.05
    elif kind == 3:  # low-key or high-key scene
        lum = _noise(rng, size, 1, octaves=(2, 4, 8, 16))
        tint = rng.uniform(3, 0.6, 1.0)
        if rng.uniform(1)[0] < 0.5:
            img = np.clip(0.12 + 0.2 * lum, 0, 1) ** 1.5 * tint
        else:
            img = 1 - np.clip(0.1 + 0.15 * lum, 0, 1) * tint
    else:  # skin-toned texture close up, with a darker background region
        tone = SKIN[int(rng.uniform(1)[0] * len(SKIN))]
        lum = _noise(rng, size, 1, octaves=(2, 4, 8, 16, 32))
        img = tone * (0.75 + 0.35 * lum)
        cut = rng.uniform(2)
        bg = (xx * np.cos(6 * cut[0]) + yy * np.sin(6 * cut[0])) > 0.6 + 0.3 * cut[1]
        img[bg] = (rng.uniform(3, 0, 0.5) + 0.1 * _noise(rng, size, 3, octaves=(8, 16)))[bg]
    levels = np.clip(np.round(np.clip(img, 0, 1) * 255), 0, 255)
    return (levels.astype(np.float32) / np.float32(255)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Graph rewriting

def attributes(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def consumers_of(nodes):
    users = {}
    for i, n in enumerate(nodes):
        for x in n.input:
            if x:
                users.setdefault(x, []).append(i)
    return users


def fold_constants(graph):
    """Evaluates the nodes whose inputs are all constants (the weight lookups) into initializers."""
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    kept = []
    for n in graph.node:
        inputs = [x for x in n.input if x]
        if n.op_type in CONSTANT_OPS and all(x in values for x in inputs):
            a = attributes(n)
            if n.op_type == "Cast":
                dtype = helper.tensor_dtype_to_np_dtype(a["to"]) if hasattr(helper, "tensor_dtype_to_np_dtype") \
                    else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]
                values[n.output[0]] = values[n.input[0]].astype(dtype)
            elif n.op_type == "Gather":
                values[n.output[0]] = np.take(values[n.input[0]], values[n.input[1]].astype(np.int64), axis=a.get("axis", 0))
            else:
                values[n.output[0]] = numpy_helper.to_array(a["value"])
        else:
            kept.append(n)
    return kept, values


def simplify(graph):
    nodes, values = fold_constants(graph)
    for n in nodes:
        if n.op_type not in SUPPORTED or n.domain not in ("", "ai.onnx"):
            raise ValueError(f"{n.name or n.op_type}: op {n.domain or 'ai.onnx'}.{n.op_type} is not supported")
    producer = {out: n for n in nodes for out in n.output}
    users = consumers_of(nodes)

    # BatchNormalization into the Conv before it.
    out_nodes = []
    for n in nodes:
        if n.op_type == "BatchNormalization":
            conv = producer.get(n.input[0])
            if conv is None or conv.op_type != "Conv" or len(users[n.input[0]]) != 1:
                raise ValueError(f"{n.name}: BatchNormalization not after a Conv it alone reads")
            eps = attributes(n).get("epsilon", 1e-5)
            gamma, beta, mean, var = (values[x].astype(np.float64) for x in n.input[1:5])
            factor = gamma / np.sqrt(var + np.float64(np.float32(eps)))
            w = values[conv.input[1]].astype(np.float64)
            b = values[conv.input[2]].astype(np.float64) if len(conv.input) > 2 and conv.input[2] else np.zeros(w.shape[0])
            wname, bname = conv.name + "/W_bn", conv.name + "/B_bn"
            values[wname] = (w * factor[:, None, None, None]).astype(np.float32)
            values[bname] = ((b - mean) * factor + beta).astype(np.float32)
            data = conv.input[0]
            del conv.input[:]
            conv.input.extend([data, wname, bname])
            conv.output[0] = n.output[0]
            continue
        out_nodes.append(n)
    nodes = out_nodes
    producer = {out: n for n in nodes for out in n.output}
    users = consumers_of(nodes)

    # Zero Pad into the Conv after it.
    out_nodes = []
    for n in nodes:
        if n.op_type == "Pad":
            a = attributes(n)
            mode = a.get("mode", b"constant")
            pads = values[n.input[1]].astype(np.int64)
            value = values[n.input[2]] if len(n.input) > 2 and n.input[2] else np.float32(0)
            conv_ids = users.get(n.output[0], [])
            convs = [nodes[k] for k in conv_ids]
            if mode != b"constant" or float(value) != 0 or len(pads) != 8 or pads[0] or pads[1] or pads[4] or pads[5] \
                    or len(convs) != 1 or convs[0].op_type != "Conv" or attributes(convs[0]).get("auto_pad", b"NOTSET") != b"NOTSET":
                raise ValueError(f"{n.name}: only a zero spatial Pad read by one Conv can be folded")
            conv = convs[0]
            ca = attributes(conv)
            cp = list(ca.get("pads", [0, 0, 0, 0]))
            new = [cp[0] + int(pads[2]), cp[1] + int(pads[3]), cp[2] + int(pads[6]), cp[3] + int(pads[7])]
            for attr in conv.attribute:
                if attr.name == "pads":
                    del attr.ints[:]
                    attr.ints.extend(new)
                    break
            else:
                conv.attribute.append(helper.make_attribute("pads", new))
            conv.input[0] = n.input[0]
            continue
        out_nodes.append(n)
    nodes = out_nodes
    used = {x for n in nodes for x in n.input if x}
    values = {k: v for k, v in values.items() if k in used}
    return nodes, values


# ---------------------------------------------------------------------------------------------------------------
# The float32 evaluator (calibration)

def conv2d(x, w, b, a):
    group = a.get("group", 1)
    kh, kw = w.shape[2], w.shape[3]
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    if tuple(a.get("dilations", [1, 1])) != (1, 1):
        raise ValueError("dilated convolutions are not supported")
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    ho, wo = (h - kh) // sh + 1, (wd - kw) // sw + 1
    m = w.shape[0]
    if group == 1:
        if kh == kw == 1:
            y = np.einsum("nchw,mc->nmhw", x[:, :, ::sh, ::sw][:, :, :ho, :wo], w[:, :, 0, 0], optimize=True)
        else:
            y = np.zeros((n, m, ho, wo), np.float32)
            for i in range(kh):
                for j in range(kw):
                    patch = x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                    y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j], optimize=True)
    elif group == c == m and w.shape[1] == 1:
        y = np.zeros((n, m, ho, wo), np.float32)
        for i in range(kh):
            for j in range(kw):
                y += x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] * w[None, :, 0, i, j, None, None]
    else:
        raise ValueError(f"grouped convolution with group {group} is not supported")
    if b is not None:
        y += b[None, :, None, None]
    return y.astype(np.float32)


def evaluate(nodes, values, feeds, observe):
    env = dict(values)
    env.update(feeds)
    for n in nodes:
        a = attributes(n)
        x = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Transpose":
            y = np.ascontiguousarray(np.transpose(x[0], a["perm"]))
        elif op == "Mul":
            y = x[0] * x[1]
        elif op == "Sub":
            y = x[0] - x[1]
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Conv":
            y = conv2d(x[0], x[1], x[2] if len(x) > 2 else None, a)
        elif op == "Clip":
            y = np.clip(x[0], x[1], x[2])
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "AveragePool":
            if a.get("pads", [0, 0, 0, 0]) != [0, 0, 0, 0]:
                raise ValueError("padded AveragePool is not supported")
            kh, kw = a["kernel_shape"]
            sh, sw = a.get("strides", [1, 1])
            win = np.lib.stride_tricks.sliding_window_view(x[0], (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
            y = win.mean(axis=(4, 5), dtype=np.float64).astype(np.float32)
        elif op == "Flatten":
            axis = a.get("axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif op == "Gemm":
            aa, bb = (x[0].T if a.get("transA", 0) else x[0]), (x[1].T if a.get("transB", 0) else x[1])
            y = a.get("alpha", 1.0) * (aa @ bb)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get("beta", 1.0) * x[2]
        elif op == "Softmax":
            e = np.exp(x[0] - x[0].max(axis=a.get("axis", -1), keepdims=True))
            y = e / e.sum(axis=a.get("axis", -1), keepdims=True)
        elif op == "Identity":
            y = x[0]
        else:
            raise ValueError(f"no evaluator for {op}")
        y = np.asarray(y, dtype=np.float32)
        env[n.output[0]] = y
        observe(n.output[0], y)
    return env


class Histogram:
    """Counts of a tensor's values in BINS equal bins over [-R, R], R a power of two that doubles (merging bin pairs,
    exactly) when a larger value arrives: the same counts whatever the batch order."""
    BINS = 4096

    def __init__(self):
        self.r, self.counts, self.zeros = None, None, 0

    def add(self, y):
        top = float(np.abs(y).max())
        r = 2.0 ** int(np.ceil(np.log2(max(top, 2.0 ** -24))))
        if self.r is None:
            self.r, self.counts = r, np.zeros(self.BINS, np.int64)
        while self.r < r:
            quarter = np.zeros(self.BINS // 4, np.int64)
            self.counts = np.concatenate([quarter, self.counts.reshape(-1, 2).sum(axis=1), quarter])
            self.r *= 2
        idx = ((y.ravel() + np.float32(self.r)) * np.float32(self.BINS / (2 * self.r))).astype(np.int64)
        np.clip(idx, 0, self.BINS - 1, out=idx)
        self.counts += np.bincount(idx, minlength=self.BINS)
        self.zeros += int(np.count_nonzero(y == 0))

    def centres(self):
        width = 2 * self.r / self.BINS
        return -self.r + width * (np.arange(self.BINS) + 0.5)


def calibrate(nodes, values, input_name, size, count, batch=8, first=0):
    """Min/max and a histogram of every tensor over the calibration images, and the per-channel mean of every Conv input."""
    ranges, sums, histograms = {}, {}, {}
    conv_inputs = {n.input[0] for n in nodes if n.op_type == "Conv"}

    def observe(name, y):
        if name in conv_inputs:
            sums[name] = sums.get(name, 0) + y.sum(axis=(0, 2, 3), dtype=np.float64)
            sums[name + "/count"] = sums.get(name + "/count", 0) + y.shape[0] * y.shape[2] * y.shape[3]
        lo, hi = float(y.min()), float(y.max())
        if name in ranges:
            ranges[name] = (min(ranges[name][0], lo), max(ranges[name][1], hi))
        else:
            ranges[name] = (lo, hi)
        if y.ndim == 4:
            histograms.setdefault(name, Histogram()).add(y)

    for start in range(first, first + count, batch):
        images = np.stack([calibration_image(i, size) for i in range(start, min(first + count, start + batch))])
        observe(input_name, images)
        env = evaluate(nodes, values, {input_name: images}, observe)
        del env
    means = {name: np.array([round_significant(v) for v in sums[name] / sums[name + "/count"]]) for name in conv_inputs}
    return ranges, means, histograms


def round_significant(v, digits=6):
    return float(f"{v:.{digits - 1}e}")


# ---------------------------------------------------------------------------------------------------------------
# Quantization

def activation_params(lo, hi):
    """uint8 asymmetric scale and zero point covering [lo, hi] and 0."""
    lo, hi = min(0.0, round_significant(lo)), max(0.0, round_significant(hi))
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = np.float32((hi - lo) / 255.0)
    zero = int(np.clip(np.round(-lo / float(scale)), 0, 255))
    return scale, zero


def clipped_range(histogram, lo, hi, method):
    """The activation range [lo, hi] to quantize over: the calibration's min/max, or (method "mse") the range, shrunk
    towards 0 by a common factor, whose expected squared error on the calibration's histogram is smallest (rounding,
    scale^2/12, for the values inside; clipping, (x - bound)^2, for those outside; exact zeros cost nothing), or
    (method "percentileP") the central P% of the values."""
    if method == "minmax" or histogram is None:
        return lo, hi
    counts = histogram.counts.astype(np.float64)
    centres = histogram.centres()
    if method.startswith("percentile"):
        tail = (100.0 - float(method[len("percentile"):])) / 100.0
        cum = np.cumsum(counts)
        width = 2 * histogram.r / histogram.BINS
        k_lo = int(np.searchsorted(cum, tail * cum[-1], side="right"))
        k_hi = int(np.searchsorted(cum, (1 - tail) * cum[-1], side="left"))
        return max(lo, centres[k_lo] - width / 2), min(hi, centres[k_hi] + width / 2)
    if method != "mse":
        raise ValueError(f"unknown range method {method}")
    counts[histogram.BINS // 2] -= histogram.zeros  # exact zeros land in the bin just above 0 and are exact
    best, best_err = (lo, hi), None
    for alpha in np.linspace(1.0, 0.25, 151):
        l, h = min(0.0, lo * alpha), max(0.0, hi * alpha)
        scale = (h - l) / 255.0
        err = np.where(centres < l, (centres - l) ** 2, np.where(centres > h, (centres - h) ** 2, scale * scale / 12.0))
        total = float(np.dot(counts, err))
        if best_err is None or total < best_err * (1 - 1e-9):
            best, best_err = (l, h), total
    return best


def quantize(nodes, values, input_name, ranges, means, histograms=None, method="minmax", float_convs=()):
    producer = {out: n for n in nodes for out in n.output}
    users = consumers_of(nodes)

    def clip_after(conv):
        readers = users.get(conv.output[0], [])
        if len(readers) != 1 or nodes[readers[0]].op_type != "Clip":
            return None
        clip = nodes[readers[0]]
        return clip if float(values[clip.input[1]]) == 0.0 else None

    floating = set(float_convs)  # convolutions left in float32 (their ReLU6 too)

    # Conv -> Clip(0,6): drop the Clip; its range becomes the Conv output's quantization range (a float Conv keeps it).
    dropped = set()
    clamp = {}
    for n in nodes:
        if n.op_type != "Conv" or n.name in floating:
            continue
        clip = clip_after(n)
        if clip is None:
            continue
        lo, hi = float(values[clip.input[1]]), float(values[clip.input[2]])
        n.output[0] = clip.output[0]
        clamp[clip.output[0]] = (lo, hi)
        dropped.add(id(clip))
    nodes = [n for n in nodes if id(n) not in dropped]
    producer = {out: n for n in nodes for out in n.output}
    users = consumers_of(nodes)

    quantized = {}  # tensor -> (scale, zero point)
    chosen = {}

    def params_for(name):
        lo, hi = ranges[name]
        if name in clamp:
            lo, hi = max(lo, clamp[name][0]), min(hi, clamp[name][1])
            lo = 0.0
        if name != input_name:
            how = method.split("/")[0 if lo >= 0 or "/" not in method else 1]
            lo, hi = clipped_range((histograms or {}).get(name), lo, hi, how)
        chosen[name] = (lo, hi)
        return activation_params(lo, hi)

    for n in nodes:
        if n.op_type == "Conv" and n.name not in floating:
            quantized.setdefault(n.input[0], params_for(n.input[0]))
            quantized[n.output[0]] = params_for(n.output[0])
    for n in nodes:  # in order: an Add's inputs are decided before it
        if n.op_type == "Add" and all(x in quantized for x in n.input if x not in values):
            quantized[n.output[0]] = params_for(n.output[0])

    new_nodes, inits = [], dict(values)
    weight_done = set()

    def scalar(name, value, dtype):
        inits[name] = np.array(value, dtype=dtype)
        return name

    dq_count = {}

    def dequantized(tensor):
        """A DequantizeLinear of its own for each reader (ONNX Runtime fuses node units with dedicated DQs)."""
        k = dq_count.get(tensor, 0)
        dq_count[tensor] = k + 1
        out = f"{tensor}/dq{k}"
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{tensor}/q", f"{tensor}/scale", f"{tensor}/zero_point"],
                                          [out], name=out))
        return out

    def emit_quantize(tensor):
        scale, zero = quantized[tensor]
        scalar(f"{tensor}/scale", scale, np.float32)
        scalar(f"{tensor}/zero_point", zero, np.uint8)
        new_nodes.append(helper.make_node("QuantizeLinear", [tensor, f"{tensor}/scale", f"{tensor}/zero_point"],
                                          [f"{tensor}/q"], name=f"{tensor}/q"))

    if input_name in quantized:
        emit_quantize(input_name)
    stats = {"conv": 0, "weights": 0, "add": 0}
    for n in nodes:
        node = onnx.NodeProto()
        node.CopyFrom(n)
        if n.op_type == "Conv" and n.name not in floating:
            w = values[n.input[1]].astype(np.float64)
            m = w.shape[0]
            w_scale = (np.abs(w.reshape(m, -1)).max(axis=1) / 127.0).astype(np.float32)
            w_scale[w_scale == 0] = np.float32(1.0)
            wq = np.clip(np.round(w / w_scale.astype(np.float64)[:, None, None, None]), -127, 127).astype(np.int8)
            x_scale = quantized[n.input[0]][0]
            b_scale = (np.float32(x_scale) * w_scale).astype(np.float32)
            b = values[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else np.zeros(m)
            # Bias correction: the weights' rounding shifts each output channel's mean by (Wq - W) . E[x]; the
            # calibration's per-channel input means take that shift back out of the bias.
            dw = wq.astype(np.float64) * w_scale.astype(np.float64)[:, None, None, None] - w
            mu = means[n.input[0]]
            if attributes(n).get("group", 1) == 1:
                b = b - np.einsum("mcij,c->m", dw, mu)
            else:  # depthwise: output channel m reads input channel m
                b = b - dw.sum(axis=(1, 2, 3)) * mu
            bq = np.clip(np.round(b / b_scale.astype(np.float64)), -(2 ** 31), 2 ** 31 - 1).astype(np.int32)
            wn, bn = f"{n.name}/W", f"{n.name}/B"
            inits[f"{wn}_q"], inits[f"{wn}_scale"], inits[f"{wn}_zero_point"] = wq, w_scale, np.zeros(m, np.int8)
            inits[f"{bn}_q"], inits[f"{bn}_scale"], inits[f"{bn}_zero_point"] = bq, b_scale, np.zeros(m, np.int32)
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{wn}_q", f"{wn}_scale", f"{wn}_zero_point"], [wn], name=wn, axis=0))
            new_nodes.append(helper.make_node("DequantizeLinear", [f"{bn}_q", f"{bn}_scale", f"{bn}_zero_point"], [bn], name=bn, axis=0))
            del node.input[:]
            node.input.extend([dequantized(n.input[0]), wn, bn])
            weight_done.update(n.input[1:3])
            stats["conv"] += 1
            stats["weights"] += wq.size
        else:
            for k, x in enumerate(n.input):
                if x in quantized:
                    node.input[k] = dequantized(x)
            if n.op_type == "Add" and n.output[0] in quantized:
                stats["add"] += 1
        new_nodes.append(node)
        if n.output[0] in quantized:
            emit_quantize(n.output[0])
    used = {x for nd in new_nodes for x in nd.input if x}
    for name in list(inits):
        if name not in used:
            del inits[name]
    stats["ranges"], stats["float_convs"] = chosen, sorted(floating)
    return new_nodes, inits, stats, len(quantized)


RANGES = "mse/percentile99.999"
FLOAT_FIRST_CONVS = 3


def describe_ranges(method):
    parts = method.split("/")
    words = {"minmax": "min/max", "mse": "MSE-optimal"}
    name = lambda m: words.get(m, m.replace("percentile", "") + "th-percentile" if m.startswith("percentile") else m)
    if len(parts) == 1:
        return f"{name(parts[0])} ranges"
    return f"{name(parts[0])} ranges for non-negative (ReLU6) tensors, {name(parts[1])} for signed ones"


def convert(model, source_sha256, count, size, method=RANGES, float_first=FLOAT_FIRST_CONVS, calibration=None):
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise ValueError("only single-input, single-output models are supported")
    for meta in model.metadata_props:
        if meta.key in ("fp32_source_sha256", "precision"):
            raise ValueError(f"this model is already a derived variant (it has {meta.key})")
    input_name = graph.input[0].name
    nodes, values = simplify(graph)
    float_convs = [n.name for n in nodes if n.op_type == "Conv"][:float_first]
    ranges, means, histograms = calibration or calibrate(nodes, values, input_name, size, count)
    new_nodes, inits, stats, tensors = quantize(nodes, values, input_name, ranges, means, histograms, method, float_convs)

    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(numpy_helper.from_array(np.ascontiguousarray(v) if np.ndim(v) else np.asarray(v), k)
                         for k, v in sorted(inits.items()))
    del g.value_info[:]
    out.doc_string = model.doc_string + (
        f" Compute precision: int8 (static QDQ: uint8 activations per tensor, int8 weights per output channel, "
        f"calibrated on {count} synthetic images); float32 input, first {len(float_convs)} convolutions, head and output; "
        f"made by tools/nsfwjs-convert/to_int8.py.")
    for key, value in (("precision", "int8"),
                       ("calibration", f"{describe_ranges(method)} over {count} synthetic {size}x{size} images made by to_int8.py"),
                       ("float32_convs", ",".join(float_convs)),
                       ("fp32_source_sha256", source_sha256)):
        entry = out.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(out, full_check=True)
    return out, stats, tensors


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help="the float32 .onnx model")
    parser.add_argument("output", help="the int8 .onnx model to write")
    parser.add_argument("--calibration-images", type=int, default=100, metavar="N",
                        help="how many synthetic calibration images (default 100)")
    parser.add_argument("--size", type=int, default=224, help="the model's input side S (default 224)")
    parser.add_argument("--ranges", default=RANGES, metavar="HOW",
                        help="activation ranges: minmax, mse, percentileP, or A/B (A for non-negative tensors, B for signed "
                             f"ones) (default {RANGES})")
    parser.add_argument("--float-first-convs", type=int, default=FLOAT_FIRST_CONVS, metavar="K",
                        help=f"leave the first K convolutions in float32 (default {FLOAT_FIRST_CONVS}: MobileNetV2's stem and "
                             "first bottleneck, the layers whose quantization moved the scores most)")
    args = parser.parse_args(argv)
    if args.calibration_images < 1 or args.size < 8 or args.float_first_convs < 0:
        parser.error("--calibration-images must be at least 1, --size at least 8 and --float-first-convs at least 0")
    for how in args.ranges.split("/"):
        try:
            valid = how in ("minmax", "mse") or (how.startswith("percentile") and 50 < float(how[10:]) <= 100)
        except ValueError:
            valid = False
        if not valid or args.ranges.count("/") > 1:
            parser.error(f"--ranges: {how} is not minmax, mse or percentileP (50 < P <= 100), or A/B of two of them")
    with open(args.input, "rb") as f:
        data = f.read()
    model = onnx.load_from_string(data)
    result, stats, tensors = convert(model, hashlib.sha256(data).hexdigest(), args.calibration_images, args.size,
                                     args.ranges, args.float_first_convs)
    onnx.save(result, args.output)
    print(f"wrote {args.output}: {stats['conv']} Conv with int8 weights ({stats['weights']} values), {stats['add']} Add "
          f"quantized; {tensors} uint8 activation tensors ({describe_ranges(args.ranges)}), calibrated on "
          f"{args.calibration_images} images; float32: {', '.join(stats['float_convs']) or 'no Conv'}; "
          f"{os.path.getsize(args.output)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
