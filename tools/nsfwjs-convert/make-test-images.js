#!/usr/bin/env node
// Writes the deterministic PNG test images used for the nsfwjs parity tests.
// PNG (lossless) so that every decoder — pngjs here, SkiaSharp in C# — sees identical pixels.
//
// Usage: node make-test-images.js OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');

// Small seeded PRNG (mulberry32): the images must be identical on every run.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp = v => Math.max(0, Math.min(255, Math.round(v)));

// pixel(x, y) -> [r, g, b, a]
function write(dir, name, width, height, pixel, { colorType = 2 } = {}) {
  const png = new PNG({ width, height, colorType, inputColorType: 6, inputHasAlpha: true, bitDepth: 8 });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b, a = 255] = pixel(x, y);
      const i = (y * width + x) * 4;
      png.data[i] = clamp(r); png.data[i + 1] = clamp(g); png.data[i + 2] = clamp(b); png.data[i + 3] = clamp(a);
    }
  }
  fs.writeFileSync(path.join(dir, name), PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true }));
}

function plasma(seed, scale) {
  const r = rng(seed);
  const waves = Array.from({ length: 4 }, () => ({ fx: r() * scale, fy: r() * scale, p: r() * 6.283 }));
  return (x, y) => {
    const v = ch => waves.reduce((s, w, k) => s + Math.sin(x * w.fx * (1 + ch * 0.3) + y * w.fy + w.p + k), 0);
    return [128 + 31 * v(0), 128 + 31 * v(1), 128 + 31 * v(2)];
  };
}

// Diamond-square fractal plasma, one height map per channel: MobileNetV2 scores many of these as porn.
function fractalPlasma(seed, width, height) {
  const r = rng(seed);
  let n = 2;
  while (n < Math.max(width, height)) n *= 2;
  n += 1;
  const roughness = 0.45 + r() * 0.2;
  const channel = () => {
    const h = new Float64Array(n * n);
    const at = (x, y) => h[y * n + x];
    for (const i of [0, n - 1, (n - 1) * n, n * n - 1]) h[i] = r();
    let amp = 1;
    for (let step = n - 1; step > 1; step /= 2, amp *= roughness) {
      const half = step / 2;
      for (let y = half; y < n; y += step)
        for (let x = half; x < n; x += step)
          h[y * n + x] = (at(x - half, y - half) + at(x + half, y - half) + at(x - half, y + half) + at(x + half, y + half)) / 4
            + (r() - 0.5) * amp;
      for (let y = 0; y < n; y += half)
        for (let x = (y / half) % 2 === 0 ? half : 0; x < n; x += step) {
          let sum = 0, count = 0;
          for (const [dx, dy] of [[-half, 0], [half, 0], [0, -half], [0, half]]) {
            const xx = x + dx, yy = y + dy;
            if (xx >= 0 && xx < n && yy >= 0 && yy < n) { sum += at(xx, yy); count++; }
          }
          h[y * n + x] = sum / count + (r() - 0.5) * amp;
        }
    }
    let min = Infinity, max = -Infinity;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) { min = Math.min(min, at(x, y)); max = Math.max(max, at(x, y)); }
    return (x, y) => (at(x, y) - min) / (max - min) * 255;
  };
  const [cr, cg, cb] = [channel(), channel(), channel()];
  return (x, y) => [cr(x, y), cg(x, y), cb(x, y)];
}

function noise(seed) {
  const r = rng(seed);
  return () => [r() * 256, r() * 256, r() * 256];
}

// A warm, smooth, skin-toned blob on a darker background.
function blobs(width, height) {
  return (x, y) => {
    const dx = (x - width * 0.5) / (width * 0.3), dy = (y - height * 0.55) / (height * 0.4);
    const d = Math.exp(-(dx * dx + dy * dy));
    return [40 + 190 * d, 30 + 140 * d, 30 + 110 * d];
  };
}

function shapes(width, height) {
  const r = rng(7);
  const items = Array.from({ length: 24 }, () => ({
    circle: r() < 0.5, x: r() * width, y: r() * height, s: 10 + r() * width / 5,
    c: [r() * 256, r() * 256, r() * 256],
  }));
  return (x, y) => {
    let c = [250, 250, 245];
    for (const it of items) {
      const inside = it.circle ? (x - it.x) ** 2 + (y - it.y) ** 2 < it.s ** 2
        : Math.abs(x - it.x) < it.s && Math.abs(y - it.y) < it.s * 0.6;
      if (inside) c = it.c;
    }
    return c;
  };
}

const dir = process.argv[2];
if (!dir) { console.error('usage: node make-test-images.js OUT_DIR'); process.exit(2); }
fs.mkdirSync(dir, { recursive: true });

write(dir, 'plasma-224x224.png', 224, 224, plasma(1, 0.08));
write(dir, 'noise-224x224.png', 224, 224, noise(2));
write(dir, 'gradient-300x200.png', 300, 200, (x, y) => [x * 255 / 299, y * 255 / 199, 255 - x * 255 / 299]);
write(dir, 'shapes-640x480.png', 640, 480, shapes(640, 480));
write(dir, 'plasma-97x131.png', 97, 131, plasma(3, 0.2));
write(dir, 'skin-blob-320x240.png', 320, 240, blobs(320, 240));
write(dir, 'checker-224x224.png', 224, 224, (x, y) => (((x >> 4) + (y >> 4)) & 1 ? [20, 20, 20] : [235, 235, 235]));
write(dir, 'tall-noise-50x400.png', 50, 400, noise(4));
write(dir, 'fractal-plasma-224x224.png', 224, 224, fractalPlasma(6, 224, 224));
write(dir, 'fractal-plasma-400x300.png', 400, 300, fractalPlasma(5, 400, 300));
write(dir, 'tiny-5x3.png', 5, 3, (x, y) => [x * 60, y * 120, 200 - x * 40]);
write(dir, 'plasma-1000x750.png', 1000, 750, plasma(5, 0.02));
// InceptionV3's own input size: no resize for it, a resize for the 224 models.
write(dir, 'fractal-plasma-299x299.png', 299, 299, fractalPlasma(9, 299, 299));
// Greyscale PNG (colour type 0): decoders give one channel, nsfwjs replicates it to RGB.
write(dir, 'grey-plasma-256x256.png', 256, 256, (x, y) => { const v = plasma(6, 0.05)(x, y)[0]; return [v, v, v]; }, { colorType: 0 });
// RGBA PNG (colour type 6): alpha is dropped, not blended — including fully transparent pixels.
write(dir, 'alpha-plasma-200x150.png', 200, 150, (x, y) => [...plasma(8, 0.1)(x, y), (x * 7 + y * 3) % 256], { colorType: 6 });
console.log(`wrote test images to ${dir}`);
