#!/usr/bin/env python3
"""AVIF quality against bytes, per size, for the AVIF quality settings given.

Runs `image-pipeline process --json` on two bench photos with `original,avif` at each
`PIPELINE_IMAGING__AVIF_QUALITY`, decodes every AVIF with Pillow's libavif and prints its PSNR
against a Pillow Lanczos reference of the upright source, its bytes and the JPEG's bytes.
The numbers behind `imaging.avif_quality`'s default (docs/outputs.md, "AVIF quality").

Usage (Pillow with AVIF and numpy; .ci/install-avif-decoder.sh makes the venv):
  PY="$(.ci/install-avif-decoder.sh)"; "$PY" -m pip install numpy
  "$PY" scripts/avif-quality.py BINARY 70 80 85
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
IMAGES = os.environ.get("BENCH_IMAGES_DIR", str(HERE / "../../shared/bench-images"))
PHOTOS = [Path(IMAGES) / n for n in ("casio-exm2-1600x1200.jpg", "olympus-ep3-4032x3024.jpg")]


def psnr(a, b):
    mse = ((np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) ** 2).mean()
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def main(binary, qualities):
    for quality in qualities:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "PATH": os.environ["PATH"],
                "PIPELINE_CONFIG_DIR": "/nonexistent",
                "PIPELINE_LOCAL__DATA_DIR": f"{tmp}/data",
                "PIPELINE_MODERATION__MODEL_DIR": f"{tmp}/no-model",
                "PIPELINE_RESIZE__FORMATS": "original,avif",
                "PIPELINE_IMAGING__AVIF_QUALITY": quality,
            }
            run = subprocess.run([binary, "process", "--json", *map(str, PHOTOS)],
                                 env=env, capture_output=True, text=True, check=True)
            for line in run.stdout.splitlines():
                record = json.loads(line)
                source = next(p for p in PHOTOS if p.name == record["name"])
                upright = ImageOps.exif_transpose(Image.open(source)).convert("RGB")
                variants = record["variants"]
                for avif in (v for v in variants if v["format"] == "avif"):
                    jpeg = next(v for v in variants if v["size"] == avif["size"] and v["format"] == "jpeg")
                    decoded = Image.open(f"{tmp}/data/buckets/uploads/{avif['name']}").convert("RGB")
                    reference = upright.resize(decoded.size, Image.LANCZOS)
                    print(f"q{quality} {source.name} {avif['size']}: {psnr(decoded, reference):.2f} dB, "
                          f"{avif['bytes']} bytes (JPEG {jpeg['bytes']})")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
