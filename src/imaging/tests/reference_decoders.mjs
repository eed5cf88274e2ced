// Decodes a ThumbHash and a BlurHash with their reference decoders (npm `thumbhash`,
// `blurhash`) for src/imaging/tests/reference_decoders.rs. Usage:
//   node reference_decoders.mjs <dir with node_modules> <thumbhash base64> <blurhash> <width> <height>
// Prints JSON: each decoding's size and the average RGBA of its left third, right third
// and whole.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const [dir, thumbB64, blur, width, height] = process.argv.slice(2);
const thumbhash = await import(pathToFileURL(`${dir}/node_modules/thumbhash/thumbhash.js`));
const blurhash = createRequire(`${dir}/`)("blurhash");

function averages(w, h, rgba) {
  const region = (x0, x1) => {
    const sum = [0, 0, 0, 0];
    let n = 0;
    for (let y = 0; y < h; y++) {
      for (let x = x0; x < x1; x++) {
        for (let c = 0; c < 4; c++) sum[c] += rgba[4 * (y * w + x) + c];
        n++;
      }
    }
    return sum.map((s) => s / n);
  };
  const third = Math.floor(w / 3);
  return { width: w, height: h, left: region(0, third), right: region(w - third, w), all: region(0, w) };
}

const thumb = thumbhash.thumbHashToRGBA(Buffer.from(thumbB64, "base64"));
const bw = 64;
const bh = Math.max(1, Math.round((64 * Number(height)) / Number(width)));
const blurPixels = blurhash.decode(blur, bw, bh);
console.log(JSON.stringify({
  thumbhash: averages(thumb.w, thumb.h, thumb.rgba),
  blurhash: averages(bw, bh, blurPixels),
  blurhashValid: blurhash.isBlurhashValid(blur).result,
}));
