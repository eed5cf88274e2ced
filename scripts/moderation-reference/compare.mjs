// Compares image-pipeline's built-in moderator with the reference nsfwjs on the same images.
//
// The reference is nsfwjs 4.4.0's MobileNetV2 model run by TensorFlow.js on its pure-JavaScript
// CPU backend (no native download), given each file's pixels as stored (no EXIF rotation, alpha
// dropped) as decoded by jpeg-js/pngjs; nsfwjs's `infer` scales them to [0,1] and resizes them
// to 224x224 (bilinear, align-corners). Our side is `image-pipeline models classify --json`:
//  - "same pixels": on a lossless BMP of exactly the pixels the reference got. This isolates
//    our preprocessing and inference; it is the pass/fail check (max |diff| <= MAX_ABS_DIFF).
//  - "own decoder": on the original file, decoded by our decoder. JPEG decoders differ by a
//    level here and there (IDCT, chroma upsampling), and the resize does not average them
//    away; shown for information.
//
// Usage (run.sh does the install): node compare.mjs NODE_DEPS_DIR IMAGE_PIPELINE_BIN IMAGE...
// Exits 1 if any "same pixels" class probability differs by more than MAX_ABS_DIFF.

import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

const MAX_ABS_DIFF = 0.01;
const CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"];

const [depsDir, bin, ...images] = process.argv.slice(2);
if (!depsDir || !bin || images.length === 0) {
  console.error("usage: node compare.mjs NODE_DEPS_DIR IMAGE_PIPELINE_BIN IMAGE...");
  process.exit(2);
}
const require = createRequire(join(depsDir, "package.json"));
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");
const jpeg = require("jpeg-js");
const { PNG } = require("pngjs");

/** The file's RGBA pixels as stored: { width, height, data }. */
function decodeRgba(path) {
  const bytes = readFileSync(path);
  const isPng = bytes.subarray(0, 4).toString("hex") === "89504e47";
  return isPng
    ? PNG.sync.read(bytes)
    : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 2048 });
}

/** An int32 [h, w, 3] tensor of the RGB channels (what tf.browser.fromPixels gives). */
function rgbTensor(img) {
  const rgb = new Int32Array(img.width * img.height * 3);
  for (let i = 0, j = 0; i < img.width * img.height * 4; i += 4, j += 3) {
    rgb[j] = img.data[i];
    rgb[j + 1] = img.data[i + 1];
    rgb[j + 2] = img.data[i + 2];
  }
  return tf.tensor3d(rgb, [img.height, img.width, 3], "int32");
}

/** A 24-bit BMP of the RGB channels: lossless, and trivial to write. */
function bmp(img) {
  const stride = (img.width * 3 + 3) & ~3;
  const out = Buffer.alloc(54 + stride * img.height);
  out.write("BM", 0);
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(img.width, 18);
  out.writeInt32LE(img.height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  out.writeUInt32LE(stride * img.height, 34);
  for (let y = 0; y < img.height; y++) {
    const row = 54 + (img.height - 1 - y) * stride;
    for (let x = 0; x < img.width; x++) {
      const i = (y * img.width + x) * 4;
      out[row + x * 3] = img.data[i + 2];
      out[row + x * 3 + 1] = img.data[i + 1];
      out[row + x * 3 + 2] = img.data[i];
    }
  }
  return out;
}

async function reference(model, img) {
  const pixels = rgbTensor(img);
  const logits = model.infer(pixels);
  const probs = Array.from(await logits.data());
  logits.dispose();
  pixels.dispose();
  return Object.fromEntries(CLASSES.map((c, i) => [c, probs[i]]));
}

function ours(paths) {
  const out = execFileSync(bin, ["models", "classify", "--json", ...paths], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  return out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

const maxDiff = (a, b) => Math.max(...CLASSES.map((c) => Math.abs(a[c] - b[c])));

await tf.setBackend("cpu");
const model = await nsfwjs.load("MobileNetV2", { size: 224, type: "layers" });
const scratch = mkdtempSync(join(tmpdir(), "moderation-reference-"));
const refs = [];
const copies = [];
for (const [i, path] of images.entries()) {
  const img = decodeRgba(path);
  refs.push(await reference(model, img));
  copies.push(join(scratch, `${i}.bmp`));
  writeFileSync(copies[i], bmp(img));
}
const samePixels = ours(copies);
const ownDecoder = ours(images);
rmSync(scratch, { recursive: true });

let worst = 0;
let worstOwn = 0;
console.log(`backend ${tf.getBackend()}, tfjs ${tf.version.tfjs}, nsfwjs 4.4.0 MobileNetV2`);
console.log(
  ["image".padEnd(36), ...CLASSES.map((c) => c.padStart(16)), "same px".padStart(10), "own dec".padStart(10)].join(""),
);
for (const [i, path] of images.entries()) {
  const [ref, got] = [refs[i], samePixels[i].probabilities];
  const [diff, diffOwn] = [maxDiff(ref, got), maxDiff(ref, ownDecoder[i].probabilities)];
  worst = Math.max(worst, diff);
  worstOwn = Math.max(worstOwn, diffOwn);
  const cells = CLASSES.map((c) => `${ref[c].toFixed(4)}/${got[c].toFixed(4)}`.padStart(16));
  console.log(
    [basename(path).padEnd(36), ...cells, diff.toExponential(1).padStart(10), diffOwn.toExponential(1).padStart(10)].join(""),
  );
}
console.log("cells: reference/ours on the same pixels; columns: max |difference| of the five probabilities");
console.log(`same pixels: max abs difference over ${images.length} images ${worst.toExponential(3)} (limit ${MAX_ABS_DIFF})`);
console.log(`own decoders (information): max abs difference ${worstOwn.toExponential(3)}`);
process.exit(worst <= MAX_ABS_DIFF ? 0 : 1);
