"""`vaestudio sample MODEL --prompt TEXT --num N --seed S --out DIR`: images to PNG files + a manifest.

Text-to-image bundles (``shapes``, ``emoji``) sample from the prompt (reranked by the scorer);
class-to-image bundles (``mnist-vqvae``) draw the class ``--label`` names (a class name or index; without
it, the classes in turn); other models draw from their prior (the prompt is then ignored;
class-conditional models take ``--label``). ``DIR/samples.jsonl`` gets one line per image: file, prompt, seed, score (and the class drawn).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _label(text: str | None) -> int | str | None:
    """--label as given: a class index when it is a whole number, else a class name."""
    return int(text) if text is not None and text.strip().isdigit() else text


def _images(model, arguments: argparse.Namespace) -> tuple[list, list[str]]:
    """(GeneratedImage-like items with .image and .score, and .label when drawn as a class; warnings) for any
    loadable model."""
    from types import SimpleNamespace

    from vaestudio.checkpoints import Bundle

    if isinstance(model, Bundle) and model.kind == "text_to_image":
        from vaestudio.pipelines.text_to_image import TextToImage

        result = TextToImage(model)(arguments.prompt, num_images=arguments.num,
                                    rerank=max(arguments.rerank, arguments.num), seed=arguments.seed,
                                    temperature=arguments.temperature, top_k=arguments.top_k,
                                    guidance_scale=arguments.guidance)
        return list(result), result.warnings
    if isinstance(model, Bundle) and model.kind == "class_to_image":
        from vaestudio.pipelines.class_to_image import ClassToImage

        warnings = ["this model draws classes (--label), not prompts: the prompt is ignored"] if arguments.prompt else []
        pipeline = ClassToImage(model)
        result = pipeline(_label(arguments.label), num_images=arguments.num, seed=arguments.seed,
                          temperature=arguments.temperature, top_k=arguments.top_k)
        return [SimpleNamespace(image=item.image, score=None, label=pipeline.class_names[label])
                for item, label in zip(result, result.labels)], warnings
    from vaestudio.pipelines.editing import Editor

    warnings = ["this model is not text-conditioned: the prompt is ignored"] if arguments.prompt else []
    label = _label(arguments.label)
    if isinstance(label, str):
        raise ValueError(f"--label {label!r}: this model takes a class index (0, 1, ...)")
    pictures = Editor(model).sample(arguments.num, seed=arguments.seed, condition=label)
    return [SimpleNamespace(image=picture, score=None) for picture in pictures], warnings


def run(arguments: argparse.Namespace) -> int:
    from vaestudio.hub import load

    try:
        model = load(arguments.model)
        items, warnings = _images(model, arguments)
    except (ValueError, TypeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"note: {warning}", file=sys.stderr)
    os.makedirs(arguments.out, exist_ok=True)
    manifest = os.path.join(arguments.out, "samples.jsonl")
    with open(manifest, "a", encoding="utf-8") as stream:
        for index, item in enumerate(items):
            name = f"sample-s{arguments.seed}-{index:03d}.png"
            item.image.save(os.path.join(arguments.out, name))
            record = {"file": name, "model": arguments.model, "prompt": arguments.prompt, "seed": arguments.seed,
                      "index": index, "score": item.score}
            if getattr(item, "label", None) is not None:
                record["label"] = item.label
            stream.write(json.dumps(record) + "\n")
    print(f"wrote {len(items)} images and {manifest}")
    return 0


def add_sample(commands: argparse._SubParsersAction) -> None:
    sample = commands.add_parser("sample", help="generate images from a model (PNG files + samples.jsonl)",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sample.add_argument("model", help="a shipped name (shapes, emoji, digits...), a model folder or a Hub id")
    sample.add_argument("--prompt", default="", help="what to draw (text-to-image models)")
    sample.add_argument("--num", type=int, default=4, help="number of images")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--rerank", type=int, default=16, help="candidates sampled, the best --num kept")
    sample.add_argument("--temperature", type=float, default=None, help="default: the model's own")
    sample.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest codes (0: all)")
    sample.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance scale (1: none; default: the model's own)")
    sample.add_argument("--label", help="class-conditional models: the class to draw (a class name or index)")
    sample.add_argument("--out", default="samples", help="output folder")
    sample.set_defaults(handler=run)
