"""Engine-side latency of the pipelines on the shipped models (medians of repeated runs).

    python -m bench.bench_pipelines [--quick] [--threads N]

- text to image: 4 images from a prompt, reranking 16 candidates (goal < 0.5 s), on ``shapes``; also with
  whole-prompt reranking only (object_score_weight 0), which shows what scoring each object alone costs;
- slider re-decode: one slider moved, decode only (goal < 30 ms), on ``shapes-vae`` and ``shapes``;
- encoding a 1024 x 1024 upload (a photo-like JPEG, and incompressible PNG noise as the worst
  case): decode, fit, encode (goal < 100 ms);
- cached vs naive sampling of one 16 x 16 code map on the shipped prior (goal >= 50x).

Writes bench/results/pipelines-cpu.json.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
import torch
from PIL import Image

from bench import harness
from vaestudio.hub import load
from vaestudio.pipelines.editing import Editor
from vaestudio.pipelines.text_to_image import TextToImage

PROMPT = "a large red circle in the top left and a small blue star at the bottom on a white background"
GOALS = {"text_to_image_s": 0.5, "slider_decode_s": 0.030, "encode_upload_s": 0.100, "cached_speedup": 50.0}


def upload(size: int, kind: str = "png_noise") -> bytes:
    """An upload of ``size`` x ``size``: "png_noise" (incompressible, the worst case for decoding) or
    "jpeg_photo" (a smooth gradient with mild noise, quality 90, like a camera picture)."""
    rng = np.random.default_rng(0)
    if kind == "png_noise":
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        ramp = np.linspace(0, 255, size)
        pixels = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1),
                           np.full((size, size), 128.0)], axis=-1)
        pixels = np.clip(pixels + rng.normal(0, 8, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG" if kind == "png_noise" else "JPEG", quality=90)
    return buffer.getvalue()


def bench_text_to_image(pipeline: TextToImage, repeats: int) -> dict:
    return harness.time_call(lambda: pipeline(PROMPT, num_images=4, rerank=16, seed=0), repeats)


def bench_slider(editor: Editor, repeats: int) -> dict:
    encoding = editor.encode(upload(64))
    values = list(encoding.slider_values)
    values[0] += 1.0
    return {"sliders": len(values), **harness.time_call(lambda: editor.decode(encoding, values), repeats)}


def bench_upload(editor: Editor, repeats: int) -> dict:
    """Bytes of a 1024 x 1024 upload -> decoded, fitted and encoded (the editor's encode)."""
    cases = {}
    for kind in ("jpeg_photo", "png_noise"):
        data = upload(1024, kind)
        cases[kind] = {"upload_bytes": len(data),
                       **harness.time_call(lambda data=data: editor.encode(data), repeats)}
    return cases


def bench_sampling(pipeline: TextToImage, repeats: int) -> dict:
    prior = pipeline.prior
    height, width = pipeline.code_map_shape
    condition = pipeline.condition(PROMPT, 1)
    cached = harness.time_call(lambda: prior.sample(condition, height, width, seed=0), repeats)
    naive = harness.time_call(lambda: prior.naive_sample(condition, height, width, seed=0), 1, warmup=0,
                              budget_s=120.0)
    same = torch.equal(prior.sample(condition, height, width, seed=0),
                       prior.naive_sample(condition, height, width, seed=0))
    return {"cached": cached, "naive": naive, "speedup": naive["median_s"] / cached["median_s"],
            "same_codes": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--model", default="shapes", help="the text-to-image bundle")
    parser.add_argument("--vae", default="shapes-vae", help="the Gaussian model for the slider case")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    repeats = 3 if arguments.quick else 11
    shapes = load(arguments.model)
    pipeline = TextToImage(shapes)
    vq_editor, vae_editor = Editor(shapes), Editor(load(arguments.vae))
    vq_editor.sliders(), vae_editor.sliders()  # per-model precomputation, done once on first use
    results = {
        "text_to_image_4_of_16": bench_text_to_image(pipeline, repeats),
        "text_to_image_4_of_16_whole_prompt_reranking": bench_text_to_image(
            TextToImage(shapes, options={"object_score_weight": 0.0}), repeats),
        "slider_decode_shapes_vae": bench_slider(vae_editor, 3 * repeats),
        "slider_decode_shapes_vqvae": bench_slider(vq_editor, 3 * repeats),
        "encode_1024_upload_shapes_vae": bench_upload(vae_editor, repeats),
        "encode_1024_upload_shapes_vqvae": bench_upload(vq_editor, repeats),
        "sampling_one_code_map": bench_sampling(pipeline, repeats),
    }
    rows = []
    for name, value in results.items():
        if "median_s" in value or "cached" in value:
            rows.append([name, value.get("median_s", value.get("cached", {}).get("median_s")), value.get("speedup")])
        else:
            rows += [[f"{name} ({kind})", case["median_s"], None] for kind, case in value.items()]
    harness.print_table("pipelines (median seconds)", ["case", "median_s", "speedup"], rows)
    harness.write_results("pipelines", {"goals": GOALS, "prompt": PROMPT, "models": [arguments.model, arguments.vae],
                                        "threads": arguments.threads, "results": results})


if __name__ == "__main__":
    main()
