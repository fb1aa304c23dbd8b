#!/usr/bin/env node
// Extracts a TF.js model from the nsfwjs npm package into plain files:
//   <out>/<model>/model.json             the TF.js model.json (topology + weightsManifest)
//   <out>/<model>/group1-shardNofM.bin   the binary weight shards, byte for byte as TF.js reads them
// nsfwjs ships each file as a browserify bundle: requiring model.min.js returns the model.json object,
// requiring a shard returns the shard as one base64 string.
//
// Usage: node extract.js [--out DIR] [MODEL...]   (default: build, mobilenet_v2)
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const args = { out: path.join(__dirname, 'build'), models: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = path.resolve(argv[++i]);
    else args.models.push(argv[i]);
  }
  if (args.models.length === 0) args.models.push('mobilenet_v2');
  return args;
}

function extract(model, outRoot) {
  const pkgDir = path.join(__dirname, 'node_modules', 'nsfwjs');
  const modelDir = path.join(pkgDir, 'dist', 'models', model);
  if (!fs.existsSync(modelDir)) throw new Error(`nsfwjs has no model '${model}' (looked in ${modelDir})`);
  const modelJson = require(path.join(modelDir, 'model.min.js'));
  if (!modelJson || !modelJson.modelTopology || !modelJson.weightsManifest)
    throw new Error(`${model}/model.min.js did not yield a model.json object`);

  const outDir = path.join(outRoot, model);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'model.json'), JSON.stringify(modelJson));

  let total = 0;
  for (const group of modelJson.weightsManifest) {
    for (const shardPath of group.paths) {
      const base64 = require(path.join(modelDir, `${shardPath}.min.js`));
      if (typeof base64 !== 'string') throw new Error(`${shardPath}.min.js did not yield a base64 string`);
      const bytes = Buffer.from(base64, 'base64');
      fs.writeFileSync(path.join(outDir, `${shardPath}.bin`), bytes);
      total += bytes.length;
    }
  }
  const tensors = modelJson.weightsManifest.reduce((n, g) => n + g.weights.length, 0);
  console.log(`extracted ${model}: ${tensors} weight tensors, ${total} bytes -> ${outDir}`);
}

const args = parseArgs(process.argv.slice(2));
for (const model of args.models) extract(model, args.out);
