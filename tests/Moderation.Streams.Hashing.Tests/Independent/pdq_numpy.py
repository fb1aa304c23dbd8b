#!/usr/bin/python3
"""A second, independent PDQ implementation (numpy, float32), used only to produce expected.csv for the
pictures it generates here. Written from the reference's description, not from the C# port: whole-array numpy
operations instead of loops, the column blur done on the transposed array, its own PNG writer. Every float32
operation is done in the reference's order (no np.dot / np.sum, whose summation order differs).

Run: /usr/bin/python3 pdq_numpy.py   (Debian's python3 with python3-numpy; writes *.png and expected.csv here)
"""
import csv, math, os, struct, zlib
import numpy as np

F = np.float32
HERE = os.path.dirname(os.path.abspath(__file__))


def write_png(path, pixels):
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def make_picture(width, height, seed, grey):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = []
    for _ in range(1 if grey else 3):
        v = 128 + 60 * np.sin(x / width * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(y / height * rng.uniform(2, 9))
        for _ in range(5):
            x0, y0 = rng.integers(0, width), rng.integers(0, height)
            v[y0:y0 + rng.integers(3, max(4, height // 2)), x0:x0 + rng.integers(3, max(4, width // 2))] += rng.uniform(-90, 90)
        v += rng.normal(0, 4, v.shape)
        planes.append(np.clip(np.rint(v), 0, 255).astype(np.uint8))
    return planes[0] if grey else np.stack(planes, axis=2)


def luma(pixels):
    if pixels.ndim == 2:
        return pixels.astype(F)
    r, g, b = (pixels[:, :, c] for c in range(3))
    if np.array_equal(r, g) and np.array_equal(r, b):  # ImageMagick gives all-grey pictures to the reference as PGM
        return r.astype(F)
    return F(0.299) * r.astype(F) + F(0.587) * g.astype(F) + F(0.114) * b.astype(F)


def resize_512(pixels):
    height, width = pixels.shape[:2]
    if width <= 512 and height <= 512:
        return pixels
    rows = np.arange(512) * height // 512
    cols = np.arange(512) * width // 512
    return pixels[rows][:, cols]


def box_along_rows(a, window):
    n = a.shape[1]
    half = (window + 2) // 2
    out = np.empty_like(a)
    s = np.zeros(a.shape[0], F)
    count = li = ri = oi = 0
    for _ in range(half - 1):
        s = s + a[:, ri]; ri += 1; count += 1
    for _ in range(window - half + 1):
        s = s + a[:, ri]; ri += 1; count += 1
        out[:, oi] = s / F(count); oi += 1
    for _ in range(n - window):
        s = s + a[:, ri]; s = s - a[:, li]; ri += 1; li += 1
        out[:, oi] = s / F(count); oi += 1
    for _ in range(half - 1):
        s = s - a[:, li]; li += 1; count -= 1
        out[:, oi] = s / F(count); oi += 1
    return out


def downsample_64(l):
    rows, cols = l.shape
    along_rows, along_cols = (cols + 127) // 128, (rows + 127) // 128
    for _ in range(2):
        l = box_along_rows(l, along_rows)
        l = np.ascontiguousarray(box_along_rows(np.ascontiguousarray(l.T), along_cols).T)
    r = [int(((i + 0.5) * rows) / 64) for i in range(64)]
    c = [int(((j + 0.5) * cols) / 64) for j in range(64)]
    return l[r][:, c]


def quality(a):
    dv = np.trunc(((a[:-1, :] - a[1:, :]) * F(100)) / F(255)).astype(np.int64)
    dh = np.trunc(((a[:, :-1] - a[:, 1:]) * F(100)) / F(255)).astype(np.int64)
    return min(int(np.abs(dv).sum() + np.abs(dh).sum()) // 90, 100)


SCALE = F(math.sqrt(2.0 / 64.0))
D = np.array([[F(float(SCALE) * math.cos(math.pi / 2 / 64.0 * (i + 1) * (2 * j + 1))) for j in range(64)] for i in range(16)], F)


def dct(a):
    t = np.zeros((16, 64), F)
    for k in range(64):
        t = t + D[:, k:k + 1] * a[k:k + 1, :]
    b = np.zeros((16, 16), F)
    for k in range(64):
        b = b + t[:, k:k + 1] * D[:, k][None, :]
    return b


def torben(values):
    m = [F(v) for v in values.ravel()]
    n = len(m); half = (n + 1) // 2
    lo, hi = min(m), max(m)
    while True:
        guess = F((lo + hi) / F(2))
        less = [v for v in m if v < guess]; greater = [v for v in m if v > guess]
        max_lt = max(less, default=lo); min_gt = min(greater, default=hi)
        if len(less) <= half and len(greater) <= half:
            break
        if len(less) > len(greater):
            hi = max_lt
        else:
            lo = min_gt
    equal = n - len(less) - len(greater)
    if len(less) >= half:
        return max_lt
    if len(less) + equal >= half:
        return guess
    return min_gt


def to_hex(b):
    median = torben(b)
    bits = sum(1 << k for k, v in enumerate(b.ravel()) if v > median)
    return format(bits, "064x")


# Dihedral entries from the DCT: mirrors negate frequencies 1, 3, 5... (even indices) along the mirrored axis.
sign_i = np.array([-1 if i % 2 == 0 else 1 for i in range(16)], F)[:, None]
sign_j = sign_i.T
DIHEDRAL = {
    "orig": lambda b: b,
    "rot90": lambda b: (b * sign_j).T,
    "rot180": lambda b: b * sign_i * sign_j,
    "rot270": lambda b: (b * sign_i).T,
    "flipx": lambda b: b * sign_i,
    "flipy": lambda b: b * sign_j,
    "flipp": lambda b: b.T,
    "flipm": lambda b: (b * sign_i * sign_j).T,
}


def pdq(pixels, dihedral):
    pixels = resize_512(pixels)
    l = luma(pixels)
    if min(l.shape) < 5:
        return ["0" * 64] * (8 if dihedral else 1), 0
    a = l if (l.shape == (64, 64) and not dihedral) else downsample_64(l)
    b = dct(a)
    q = quality(a)
    return ([to_hex(f(b)) for f in DIHEDRAL.values()] if dihedral else [to_hex(b)]), q


PICTURES = [("rgb-200x150.png", 200, 150, 1, False), ("rgb-640x96.png", 640, 96, 2, False),
            ("grey-90x120.png", 90, 120, 3, True), ("rgb-64x64.png", 64, 64, 4, False)]

if __name__ == "__main__":
    with open(os.path.join(HERE, "expected.csv"), "w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["file", "hash_hex", "quality", "dihedral_quality"] + list(DIHEDRAL))
        for name, w, h, seed, grey in PICTURES:
            pixels = make_picture(w, h, seed, grey)
            write_png(os.path.join(HERE, name), pixels)
            (plain,), q = pdq(pixels, False)
            dih, dq = pdq(pixels, True)
            out.writerow([name, plain, q, dq] + dih)
            print(name, plain, q)
