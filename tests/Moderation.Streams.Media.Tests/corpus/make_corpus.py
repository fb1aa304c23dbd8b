#!/usr/bin/env python3
"""Writes the hostile-media corpus next to this script (python3 stdlib only; deterministic).

jpeg-progressive.jpg is a copy of pdq-vectors' data/misc-images/small.jpg (Meta's ThreatExchange, BSD);
the files derived from it are made here. manifest.csv lists every file with its expected outcome.
"""
import base64, os, struct, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
rows = []

def put(name, data, expected):
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(data)
    rows.append((name, expected))

# ---------- PNG ----------
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

def png(w, h, depth, ctype, rows_bytes, extra=b'', interlace=0, ihdr_w=None, ihdr_h=None):
    ihdr = struct.pack('>IIBBBBB', ihdr_w if ihdr_w is not None else w, ihdr_h if ihdr_h is not None else h, depth, ctype, 0, 0, interlace)
    raw = b''.join(b'\x00' + r for r in rows_bytes)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')

W, H = 24, 16
def px(x, y):
    return ((x * 10) % 256, (y * 15) % 256, ((x + y) * 7) % 256)

rgb8 = [bytes(v for x in range(W) for v in px(x, y)) for y in range(H)]
put('png-rgb8.png', png(W, H, 8, 2, rgb8), 'ok')
put('png-rgb16.png', png(W, H, 16, 2, [b''.join(struct.pack('>HHH', *(c * 257 for c in px(x, y))) for x in range(W)) for y in range(H)]), 'ok')
put('png-grey-alpha16.png', png(W, H, 16, 4, [b''.join(struct.pack('>HH', x * 2000, 40000) for x in range(W)) for y in range(H)]), 'ok')
put('png-rgba8.png', png(W, H, 8, 6, [bytes(v for x in range(W) for v in px(x, y) + ((x * 11) % 256,)) for y in range(H)]), 'ok')
put('png-grey1.png', png(W, H, 1, 0, [bytes([0b10101010 if y % 2 else 0b11001100] * 3) for y in range(H)]), 'ok')
palette = chunk(b'PLTE', bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0])) + chunk(b'tRNS', bytes([255, 128, 0, 255]))
put('png-palette-trns.png', png(W, H, 8, 3, [bytes((x + y) % 4 for x in range(W)) for y in range(H)], extra=palette), 'ok')

def adam7(w, h, pixel):  # interlaced 8-bit RGB
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b''
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx)); ys = list(range(y0, h, dy))
        if not xs or not ys: continue
        for y in ys:
            raw += b'\x00' + bytes(v for x in xs for v in pixel(x, y))
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 1)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
put('png-interlaced.png', adam7(W, H, px), 'ok')

good_png = png(W, H, 8, 2, rgb8)
put('png-truncated.png', good_png[:len(good_png) // 2], 'undecodable-media')
bad_crc = bytearray(good_png); idat = good_png.index(b'IDAT'); bad_crc[idat + 4 + 3] ^= 0x55
put('png-idat-corrupt.png', bytes(bad_crc), 'undecodable-media')
put('png-header-only.png', good_png[:33], 'undecodable-media')
put('png-magic-only.png', b'\x89PNG\r\n\x1a\n', 'undecodable-media')
put('png-zero-width.png', png(1, 1, 8, 2, [b'\0\0\0'], ihdr_w=0), 'undecodable-media')
put('png-idat-not-zlib.png', b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 8, 8, 8, 2, 0, 0, 0)) + chunk(b'IDAT', os.urandom(0) + bytes(range(200))) + chunk(b'IEND', b''), 'undecodable-media')
put('png-bomb-60000x60000.png', png(1, 1, 8, 2, [b'\0\0\0'], ihdr_w=60000, ihdr_h=60000), 'media-too-large')
put('png-bomb-wide-20000x1.png', png(20000, 1, 8, 0, [bytes(20000)]), 'media-too-large')
# A real zlib bomb: 8000 x 8000 grey zeros (64 MP, over the 40 MP limit) in a few tens of KiB.
put('png-zlib-bomb-8000x8000.png', png(8000, 8000, 8, 0, [bytes(8000)] * 8000), 'media-too-large')

# ---------- JPEG (a DC-only baseline encoder: enough for flat 8x8 blocks) ----------
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
def huff_codes(bits):
    codes, code, k = [], 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes.append((code, length)); code += 1
        code <<= 1
    return codes
DC_CODES = huff_codes(DC_BITS)  # symbol i -> DC_CODES[i]

def seg(marker, body):
    return bytes([0xFF, marker]) + struct.pack('>H', len(body) + 2) + body

def jpeg_dc_only(w, h, comps, value, adobe=False):
    out = b'\xff\xd8'
    if adobe:
        out += seg(0xEE, b'Adobe' + struct.pack('>HHHB', 100, 0, 0, 0))
    out += seg(0xDB, b'\x00' + bytes([1] * 64))
    out += seg(0xC0, struct.pack('>BHHB', 8, h, w, comps) + b''.join(bytes([c + 1, 0x11, 0]) for c in range(comps)))
    out += seg(0xC4, b'\x00' + bytes(DC_BITS) + bytes(range(12)))
    out += seg(0xC4, b'\x10' + bytes([1] + [0] * 15) + b'\x00')  # AC: one code, EOB
    out += seg(0xDA, bytes([comps]) + b''.join(bytes([c + 1, 0x00]) for c in range(comps)) + b'\x00\x3f\x00')
    bits, prev = [], [0] * comps
    def emit(code, length):
        bits.extend((code >> (length - 1 - i)) & 1 for i in range(length))
    for by in range((h + 7) // 8):
        for bx in range((w + 7) // 8):
            for c in range(comps):
                dc = 8 * (value(bx, by, c) - 128)
                diff = dc - prev[c]; prev[c] = dc
                cat = abs(diff).bit_length()
                emit(*DC_CODES[cat])
                if cat:
                    emit(diff if diff > 0 else diff + (1 << cat) - 1, cat)
                emit(0, 1)  # EOB
    bits.extend([1] * (-len(bits) % 8))
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(''.join(map(str, bits[i:i + 8])), 2)
        data.append(byte)
        if byte == 0xFF: data.append(0)
    return out + bytes(data) + b'\xff\xd9'

put('jpeg-cmyk-adobe.jpg', jpeg_dc_only(32, 16, 4, lambda bx, by, c: (bx * 60 + c * 40 + by * 30) % 256, adobe=True), 'ok')
put('jpeg-grey.jpg', jpeg_dc_only(32, 16, 1, lambda bx, by, c: 40 + bx * 50 + by * 20), 'ok')
jpeg3 = jpeg_dc_only(32, 24, 3, lambda bx, by, c: (100 + bx * 30 + c * 20) % 256)
put('jpeg-baseline.jpg', jpeg3, 'ok')
put('jpeg-trailing-data.jpg', jpeg3 + b'MOTION-PHOTO-TRAILER' * 10, 'ok')
put('jpeg-named-png.png', jpeg3, 'ok')
put('jpeg-truncated.jpg', jpeg3[:len(jpeg3) - 6], 'undecodable-media')
put('jpeg-soi-only.jpg', b'\xff\xd8\xff', 'undecodable-media')
put('jpeg-headers-no-scan.jpg', jpeg3[:jpeg3.index(b'\xff\xda')] + b'\xff\xd9', 'undecodable-media')
# The adversarial probe's truncation: half of the scan data kept, then an end-of-image marker. libjpeg-turbo
# decodes the missing blocks as grey and reports success; the decoder walks the scan and refuses it.
scan3 = jpeg3.index(b'\xff\xda')
put('jpeg-baseline-half-scan-then-eoi.jpg', jpeg3[:scan3 + (len(jpeg3) - scan3) // 2] + b'\xff\xd9', 'undecodable-media')
sof = jpeg3.index(b'\xff\xc0')
dims_bomb = bytearray(jpeg3); dims_bomb[sof + 5:sof + 9] = struct.pack('>HH', 65500, 65500)
put('jpeg-bomb-65500x65500.jpg', bytes(dims_bomb), 'media-too-large')
zero = bytearray(jpeg3); zero[sof + 5:sof + 9] = struct.pack('>HH', 0, 0)
put('jpeg-zero-dimensions.jpg', bytes(zero), 'undecodable-media')
bad_len = bytearray(jpeg3); dqt = jpeg3.index(b'\xff\xdb'); bad_len[dqt + 2:dqt + 4] = b'\xff\xf0'
put('jpeg-segment-length-past-end.jpg', bytes(bad_len), 'undecodable-media')

prog = open(os.path.join(HERE, 'jpeg-progressive.jpg'), 'rb').read()
rows.append(('jpeg-progressive.jpg', 'ok'))
# Cut where the third scan starts: libjpeg-turbo decodes the first two scans and reports success.
third_scan = [i for i in range(len(prog) - 1) if prog[i] == 0xFF and prog[i + 1] == 0xDA][2]
put('jpeg-progressive-cut-after-two-scans.jpg', prog[:third_scan], 'undecodable-media')
# The same cut closed with EOI (a blurry but recognisable picture, reported as success), and the whole file cut
# at 50% with EOI appended: the file promised more scans than it holds.
put('jpeg-progressive-two-scans-then-eoi.jpg', prog[:third_scan] + b'\xff\xd9', 'undecodable-media')
put('jpeg-progressive-half-then-eoi.jpg', prog[:len(prog) // 2] + b'\xff\xd9', 'undecodable-media')
# A scan bomb: the last scan of the progressive file repeated 500 times (each scan is a pass over all blocks).
last_sos = prog.rindex(b'\xff\xda'); eoi = prog.rindex(b'\xff\xd9')
put('jpeg-scan-bomb.jpg', prog[:eoi] + prog[last_sos:eoi] * 500 + b'\xff\xd9', 'media-too-large')

# ---------- GIF ----------
def lzw_fixed(indices):  # min code size 2: a clear code before every two pixels keeps codes 3 bits wide
    codes = []
    for i in range(0, len(indices), 2):
        codes.append(4); codes.extend(indices[i:i + 2])
    codes.append(5)
    acc, n, out = 0, 0, bytearray()
    for c in codes:
        acc |= c << n; n += 3
        while n >= 8:
            out.append(acc & 0xFF); acc >>= 8; n -= 8
    if n: out.append(acc & 0xFF)
    blocks = b''.join(bytes([len(out[i:i + 255])]) + out[i:i + 255] for i in range(0, len(out), 255))
    return b'\x02' + blocks + b'\x00'

def gif(w, h, frames, screen=None):
    sw, sh = screen or (w, h)
    out = b'GIF89a' + struct.pack('<HHBBB', sw, sh, 0x81, 0, 0) + bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])
    out += b'\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00'
    for pix in frames:
        out += b'\x21\xf9\x04\x00\x0a\x00\x00\x00'
        out += b'\x2c' + struct.pack('<HHHHB', 0, 0, w, h, 0) + lzw_fixed(pix)
    return out + b'\x3b'

frame1 = [(x // 2 + y) % 4 for y in range(8) for x in range(8)]
frame2 = [3 - p for p in frame1]
animated = gif(8, 8, [frame1, frame2])
put('gif-animated.gif', animated, 'ok')
put('gif-truncated.gif', animated[:40], 'undecodable-media')
put('gif-no-frames.gif', animated[:animated.index(b'\x21\xf9')] + b'\x3b', 'undecodable-media')
put('gif-bomb-65535x65535.gif', gif(8, 8, [frame1], screen=(65535, 65535)), 'media-too-large')

# ---------- BMP ----------
def bmp(w, h, top_down=False, header=40, height_field=None):
    stride = (w * 3 + 3) & ~3
    pixels = b''.join(bytes(v for x in range(w) for v in px(x, y)[::-1]) + bytes(stride - w * 3) for y in range(h))
    if header == 12:
        dib = struct.pack('<IHHHH', 12, w, h, 1, 24)
    else:
        hf = height_field if height_field is not None else (-h if top_down else h)
        dib = struct.pack('<IiiHHIIiiII', 40, w, hf, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    off = 14 + len(dib)
    return b'BM' + struct.pack('<IHHI', off + len(pixels), 0, 0, off) + dib + pixels
put('bmp-24bit.bmp', bmp(W, H), 'ok')
put('bmp-top-down.bmp', bmp(W, H, top_down=True), 'ok')
put('bmp-os2.bmp', bmp(W, H, header=12), 'ok')
good_bmp = bmp(W, H)
put('bmp-truncated.bmp', good_bmp[:len(good_bmp) // 2], 'undecodable-media')
bomb = bytearray(good_bmp); bomb[18:26] = struct.pack('<ii', 100000, 100000)
put('bmp-bomb-100000x100000.bmp', bytes(bomb), 'media-too-large')

# ---------- WebP (1x1 files, lossless and lossy) ----------
lossless = base64.b64decode('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==')
put('webp-lossless.webp', lossless, 'ok')
put('webp-truncated.webp', lossless[:20], 'undecodable-media')
put('webp-riff-header-only.webp', b'RIFF\x04\x00\x00\x00WEBP', 'undecodable-media')

# ---------- not images, or not supported ----------
put('empty.bin', b'', 'undecodable-media')
put('text.txt', b'hello, this is not an image\n', 'unsupported-media')
put('html-named-jpg.jpg', b'<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>', 'unsupported-media')
put('svg-xxe.svg', b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>', 'unsupported-media')
put('tiff-header.tif', b'II*\x00\x08\x00\x00\x00' + bytes(64), 'unsupported-media')
put('heic-ftyp.heic', b'\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic' + bytes(32), 'unsupported-media')
put('avif-ftyp.avif', b'\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf' + bytes(32), 'unsupported-media')
put('mp4-ftyp.mp4', b'\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2' + bytes(32), 'unsupported-media')
put('pdf.pdf', b'%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n', 'unsupported-media')
put('zip.zip', b'PK\x03\x04' + bytes(26), 'unsupported-media')
put('ico.ico', b'\x00\x00\x01\x00\x01\x00\x01\x01\x00\x00\x01\x00\x18\x00' + bytes(40), 'unsupported-media')
# SkiaSharp would decode these as a WBMP if asked: only sniffed formats are.
put('wbmp-like.bin', b'\x00\x00\x08\x08' + bytes(8), 'unsupported-media')
put('bm-text.txt', b'BMW is a car, not a bitmap' + bytes(40), 'unsupported-media')
put('random-4k.bin', bytes((i * 2654435761 >> 13) & 0xFF for i in range(4096)), 'unsupported-media')

with open(os.path.join(HERE, 'manifest.csv'), 'w') as f:
    f.write('file,expected_code\n')
    for name, expected in sorted(rows):
        f.write(f'{name},{expected}\n')
print(len(rows), 'files')
