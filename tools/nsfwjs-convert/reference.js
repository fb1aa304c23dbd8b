#!/usr/bin/env node
// Runs the ORIGINAL nsfwjs model (TF.js, in node) on PNG files and writes its scores as JSON.
// The images go through nsfwjs's own preprocessing (`NSFWJS.infer`: int32 RGB tensor -> /255 ->
// resizeBilinear(alignCorners=true) only when the size differs), exactly as in a browser.
//
// Usage: node reference.js [--backend cpu|wasm] [--model NSFWJS_NAME=OUR_NAME]... --out FILE.json PNG...
//   e.g. --model MobileNetV2=nsfw-mobilenet-v2 --model MobileNetV2Mid=nsfw-mobilenet-v2-mid
//        --model InceptionV3=nsfw-inception-v3   (default: MobileNetV2=nsfw-mobilenet-v2)
// The JSON holds one entry per model under "models", each with every image's scores.
'use strict';
const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const tf = require('@tensorflow/tfjs');
const nsfwjs = require('nsfwjs');

const LABELS = ['drawing', 'hentai', 'neutral', 'porn', 'sexy']; // nsfwjs NSFW_CLASSES 0..4

function parseArgs(argv) {
  const args = { backend: 'cpu', models: [], out: null, files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backend') args.backend = argv[++i];
    else if (argv[i] === '--model') {
      const [nsfwjsName, ourName] = argv[++i].split('=');
      args.models.push({ nsfwjsName, ourName: ourName || nsfwjsName });
    }
    else if (argv[i] === '--out') args.out = argv[++i];
    else args.files.push(argv[i]);
  }
  if (!args.out || args.files.length === 0) {
    console.error('usage: node reference.js [--backend cpu|wasm] [--model NSFWJS_NAME=OUR_NAME]... --out FILE.json PNG...');
    process.exit(2);
  }
  if (args.models.length === 0) args.models.push({ nsfwjsName: 'MobileNetV2', ourName: 'nsfw-mobilenet-v2' });
  return args;
}

// pngjs always yields RGBA (grey expanded); nsfwjs sees RGB with alpha dropped, as tf.browser.fromPixels gives.
function readRgb(file) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const rgb = new Int32Array(png.width * png.height * 3);
  for (let s = 0, d = 0; d < rgb.length; s += 4, d += 3) {
    rgb[d] = png.data[s]; rgb[d + 1] = png.data[s + 1]; rgb[d + 2] = png.data[s + 2];
  }
  return { width: png.width, height: png.height, rgb };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  }
  await tf.setBackend(args.backend);
  await tf.ready();
  const models = [];
  for (const { nsfwjsName, ourName } of args.models) {
    // nsfwjs picks the input size itself: 299 for InceptionV3, 224 for the others.
    const model = await nsfwjs.load(nsfwjsName);
    const images = [];
    let millis = 0;
    for (const file of args.files) {
      const { width, height, rgb } = readRgb(file);
      const input = tf.tensor3d(rgb, [height, width, 3], 'int32');
      const started = process.hrtime.bigint();
      const output = model.infer(input);
      const scores = Array.from(await output.data());
      millis += Number(process.hrtime.bigint() - started) / 1e6;
      // classify() is the public API; its top class must agree with the raw scores.
      const top = (await model.classify(input, 1))[0].className.toLowerCase();
      input.dispose(); output.dispose();
      if (top !== LABELS[scores.indexOf(Math.max(...scores))]) throw new Error(`${file}: classify() disagrees with infer()`);
      images.push({ file: path.basename(file), width, height, scores, top });
      console.log(`${nsfwjsName} ${path.basename(file)}: ${scores.map(s => s.toFixed(6)).join(' ')} -> ${top}`);
    }
    console.log(`${nsfwjsName}: ${(millis / images.length).toFixed(1)} ms/image (${tf.getBackend()})`);
    models.push({ name: ourName, nsfwjs_model: nsfwjsName, images });
  }

  const versions = name => require(path.join(__dirname, 'node_modules', name, 'package.json')).version;
  const result = {
    description: 'Scores of the original nsfwjs models (TF.js in node) for the PNG files beside this file. ' +
      'Regenerate with tools/nsfwjs-convert/convert.sh.',
    nsfwjs: versions('nsfwjs'),
    tfjs: versions('@tensorflow/tfjs'),
    backend: tf.getBackend(),
    labels: LABELS,
    models,
  };
  fs.writeFileSync(args.out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${args.out}`);
}

main().catch(e => { console.error(e); process.exit(1); });
