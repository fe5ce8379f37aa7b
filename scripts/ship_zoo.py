"""Copies trained runs into pretrained/: plain model folders and text-to-image bundles with their cards.

    python scripts/ship_zoo.py model RUN_DIR NAME [--with-log]
    python scripts/ship_zoo.py bundle recipes/bundles/NAME.toml --runs RUNS_DIR [--evaluation JSON_FILE]

A bundle's settings live in its file (``recipes/bundles/NAME.toml``): ``kind``, ``title``, ``[components]``
(role -> run name under RUNS_DIR), ``[options]`` (copied into bundle.json as they are) and optional ``notes``
(markdown that ends the card).

A shipped folder keeps what loading and the model card need: config.json, model.safetensors,
README.md, metrics.json and recipe.toml (which names the training data for the editor). A bundle
gets bundle.json, one such folder per component, and a README.md + metrics.json that gather the
components' numbers (and an evaluation JSON such as the faithfulness report, when given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tomllib

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED_FILES = ("config.json", "model.safetensors", "README.md", "metrics.json", "recipe.toml")


def copy_model(run_dir: str, target: str) -> None:
    if os.path.exists(target):
        shutil.rmtree(target)
    os.makedirs(target)
    for name in SHIPPED_FILES:
        source = os.path.join(run_dir, name)
        if os.path.isfile(source):
            shutil.copyfile(source, os.path.join(target, name))
            os.chmod(os.path.join(target, name), 0o644)  # runs are written 0600 (atomic temp files)
    if not os.path.isfile(os.path.join(target, "model.safetensors")):
        raise SystemExit(f"{run_dir} has no model.safetensors: has its training finished?")


def read_json(path: str) -> dict:
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def read_text(path: str) -> str:
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def card_line(card: str, prefix: str) -> str:
    match = re.search(rf"^- {re.escape(prefix)}: (.*)$", card, flags=re.MULTILINE)
    return match.group(1) if match else "unknown"


def training_stages(run_dir: str) -> list[str]:
    """The run folders that trained ``run_dir``'s model, first stage first: each run's
    ``training.initialize_from`` (relative to the repository, or absolute) is the stage before it."""
    stages: list[str] = []
    current: str | None = os.path.abspath(run_dir)  # one spelling per folder, so a loop of stages ends
    while current and os.path.isdir(current) and current not in stages:
        stages.insert(0, current)
        recipe_path = os.path.join(current, "recipe.toml")
        if not os.path.isfile(recipe_path):
            break
        with open(recipe_path, "rb") as stream:
            earlier = tomllib.load(stream).get("training", {}).get("initialize_from")
        current = os.path.abspath(os.path.join(REPOSITORY, earlier)) if earlier else None
    return stages


def flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[name] = value
    return flat


TWO_LEVEL_NOTES = [
    "## Sampling and inpainting", "",
    "`vaestudio.pipelines.two_level`: the top prior draws the top code map, the bottom prior draws the bottom map",
    "given it (each level in one cached `pixelcnn_sample` call), the VQ-VAE-2 decodes both. Inpainting redraws the",
    "painted cells of both maps and keeps every other code; `level=\"bottom\"` keeps the whole top map.",
    "`bottom_prior_bits_given_shuffled_top` scores each test image's bottom codes under another image's top codes:",
    "the gap to `bottom_prior_bits_per_code` is what the bottom prior reads from its top condition.", "",
    "    vaestudio sample NAME --num 16 --out samples", "",
]


def bundle_card(name: str, title: str, components: dict[str, str], target: str, evaluation: dict,
                kind: str = "text_to_image", notes: str = "") -> str:
    lines = [f"# {name}", "", title, "", f"A `{kind}` bundle: load it with `vaestudio.load(\"" + name + "\")`.", ""]
    lines += ["## Components", "", "| role | model | training time | machine |", "|---|---|---|---|"]
    total_seconds = 0.0
    commands, sources = [], []
    for role, run_dir in components.items():
        card = read_text(os.path.join(target, role, "README.md"))
        stages = training_stages(run_dir)  # a model fine-tuned from earlier runs counts their time too
        seconds = sum(float(read_json(os.path.join(stage, "metrics.json")).get("training", {}).get("seconds", 0.0))
                      for stage in stages)
        total_seconds += seconds
        model_type = read_json(os.path.join(target, role, "config.json")).get("model_type", "?")
        stage_note = f" ({len(stages)} stages)" if len(stages) > 1 else ""
        lines.append(f"| {role} | {model_type} ([card]({role}/README.md)) | {seconds / 60:.1f} min{stage_note} | "
                     f"{card_line(card, 'machine')} |")
        commands += [card_line(read_text(os.path.join(stage, "README.md")), "command").strip("`") for stage in stages]
        sources.append(f"- {role}: {card_line(card, 'source')}")
    lines += ["", f"Total training time: {total_seconds / 60:.1f} min.", "", "## Data", ""] + sources
    lines += ["", "## Commands", "", "```"]
    lines += commands + ["```", "", "(each component's stages in order, each starting from the one before with"]
    lines += ["`training.initialize_from`; `bash scripts/train_zoo.sh` runs them all and ships the zoo.)", ""] \
        if kind == "text_to_image" else [f"`training.initialize_from`; docs/experiments/{name}.md tells how.)", ""]
    lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
    for role in components:
        evaluated = read_json(os.path.join(target, role, "metrics.json")).get("evaluation", {})
        for key, value in flatten(evaluated).items():
            lines.append(f"| {role}.{key} | {value:.4g} |")
    for key, value in flatten(evaluation).items():
        lines.append(f"| {key} | {value:.4g} |")
    ending = ["", notes.strip(), ""] if notes.strip() else [""]  # the bundle file's notes end the card
    if kind == "class_to_image":
        return "\n".join(lines + class_to_image_notes(name, target, evaluation) + ending)
    if kind == "two_level":
        return "\n".join(lines + ["", *(line.replace("NAME", name) for line in TWO_LEVEL_NOTES)] + ending)
    if evaluation:
        lines += ["", "The `faithfulness.*`, `checker_on_real_images.*` and `vqvae_reconstructions.*` rows come from",
                  f"`python -m vaestudio.evaluation.faithfulness --model {name} --num-prompts 200` (full test",
                  "captions, one image per prompt, best of 16 candidates by the scorer). `vqvae_reconstructions` is the",
                  "checker on the VQ-VAE's reconstructions of real test images: the ceiling for text to image."]
    if kind != "text_to_image":
        return "\n".join(lines + ending)
    lines += ["", "## Prompts", "",
              "An empty prompt samples from the neutral prompt in `bundle.json`; a prompt over 1,000 characters is",
              "truncated; unknown words are ignored and listed in the result's warnings.", ""]
    options = read_json(os.path.join(target, "bundle.json")).get("options", {})
    guidance = options.get("guidance_scale")
    if guidance is not None:
        lines += [("Sampling uses classifier-free guidance by default (`guidance_scale` in `bundle.json`: "
                   f"{guidance:g}; 1 turns it off), away from the neutral prompt."), ""]
    if options.get("temperature") is not None:
        lines += [(f"Codes are sampled at temperature {options['temperature']:g} by default (`temperature` in "
                   "`bundle.json`; a request's own temperature overrides it)."), ""]
    if options.get("layout"):
        lines += [(f"Prompts with two or more placed objects use regional conditioning "
                   f"(`layout` \"{options['layout']}\" in `bundle.json`): each object's one-object caption "
                   "conditions its own part of the code map (`vaestudio.worlds.shapes.layout`). `regions=False` (engine) "
                   "or `--no-regions` (faithfulness) turns it off."), ""]
    weight = options.get("object_score_weight")
    if weight:
        lines += [(f"Candidates of such prompts are reranked by the whole prompt and by each object alone in its "
                   f"region (`object_score_weight` {weight:g} in `bundle.json`: the worst object's similarity "
                   "counts that many times the whole prompt's; `vaestudio.pipelines.object_scores`)."), ""]
    return "\n".join(lines)


def class_to_image_notes(name: str, target: str, evaluation: dict) -> list[str]:
    """The card's notes on a class_to_image bundle: where its class numbers come from, and how to draw a class."""
    prior = read_json(os.path.join(target, "prior", "config.json")).get("config", {})
    lines = []
    if evaluation:
        lines += ["", "The `label_classifier`, `reconstructions`, `class_samples` and `inpainting` rows come from",
                  f"`python scripts/class_to_image_checks.py pretrained/{name}`: a label classifier",
                  "(`vaestudio.evaluation.label_classifier`, trained on the train split) reads the real test digits",
                  "(`label_classifier.test_accuracy`), the VQ-VAE's reconstructions of the test split, class samples",
                  "(`class_samples.read_as_class`: the share read as the class drawn), and test digits whose bottom half",
                  "was inpainted as another class (`inpainting.as_another_class.read_as_label`) or as their own",
                  "(`inpainting.as_own_class`, the control); `unpainted_codes_kept` is the share of codes outside the",
                  "painted cells that the sampled maps keep, `..._after_reencoding` the share that survives decoding",
                  "and encoding the inpainted image again."]
    num_codes = prior.get("num_codes")
    if num_codes:
        lines += ["", f"`prior.bits_per_code` is the prior's cross-entropy on the test codes; a uniform prior over the",
                  f"{num_codes} codes would need log2 {num_codes} = {math.log2(num_codes):.2f} bits per code."]
    lines += ["", "## Classes", "",
              f"`vaestudio sample {name} --label 3` draws the class named 3 (a class name or index; without",
              "`--label`, the classes in turn). In the studio: Explore's class picker draws the class, and Edit's",
              "inpainting redraws the painted region as the picked class, keeping every other code.", ""]
    if os.path.isfile(os.path.join(REPOSITORY, "docs", "experiments", f"{name}.md")):
        lines += [f"Machine (AMD EPYC, AVX2, 2 cores shared with other jobs, torch 2.13.0 CPU, one thread), training",
                  f"budget and why the step counts are what they are: `docs/experiments/{name}.md`.", ""]
    temperature = read_json(os.path.join(target, "bundle.json")).get("options", {}).get("temperature")
    if temperature is not None:
        lines += [(f"Codes are sampled at temperature {temperature:g} by default (`temperature` in `bundle.json`; a "
                   "request's own temperature overrides it); the measures above use that default."), ""]
    return lines


def read_bundle_settings(path: str) -> dict:
    """A bundle's settings file: {"name", "kind", "title", "components": {role: run name}, "options": {...}}."""
    with open(path, "rb") as stream:
        settings = tomllib.load(stream)
    unknown = sorted(set(settings) - {"kind", "title", "notes", "components", "options"})
    if unknown or not settings.get("components"):
        raise SystemExit(f"{path}: a bundle file has kind, title, [components] (role = run name), [options] and notes; "
                         f"got {sorted(settings)}")
    return {"name": os.path.splitext(os.path.basename(path))[0], "kind": settings.get("kind", "text_to_image"),
            "title": settings.get("title", ""), "notes": settings.get("notes", ""),
            "components": dict(settings["components"]),
            "options": dict(settings.get("options", {}))}


def ship_bundle(name: str, components: dict[str, str], title: str, evaluation: dict, options: dict,
                kind: str = "text_to_image", root: str = os.path.join(REPOSITORY, "pretrained"), notes: str = "") -> None:
    target = os.path.join(root, name)
    if os.path.exists(target):
        shutil.rmtree(target)
    for role, run_dir in components.items():
        copy_model(run_dir, os.path.join(target, role))
    document = {"kind": kind, "components": {role: role for role in components}, "options": dict(options)}
    with open(os.path.join(target, "bundle.json"), "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2)
        stream.write("\n")
    metrics = {role: read_json(os.path.join(target, role, "metrics.json")).get("evaluation", {})
               for role in components}
    metrics.update(evaluation)
    with open(os.path.join(target, "metrics.json"), "w", encoding="utf-8") as stream:
        json.dump(metrics, stream, indent=2, sort_keys=True)
        stream.write("\n")
    with open(os.path.join(target, "README.md"), "w", encoding="utf-8") as stream:
        stream.write(bundle_card(name, title, components, target, evaluation, kind, notes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    model = commands.add_parser("model")
    model.add_argument("run_dir")
    model.add_argument("name")
    model.add_argument("--with-log", action="store_true",
                       help="also ship the run's log.jsonl (the Learn tab draws its training curves)")
    bundle = commands.add_parser("bundle")
    bundle.add_argument("settings", help="the bundle's settings file, recipes/bundles/NAME.toml")
    bundle.add_argument("--runs", default="runs/zoo", help="the folder holding the component runs")
    bundle.add_argument("--evaluation", help="a JSON file of extra metrics (e.g. the faithfulness report)")
    arguments = parser.parse_args(argv)
    if arguments.command == "model":
        name = arguments.name
        copy_model(arguments.run_dir, os.path.join(REPOSITORY, "pretrained", name))
        if arguments.with_log:
            target = os.path.join(REPOSITORY, "pretrained", arguments.name, "log.jsonl")
            shutil.copyfile(os.path.join(arguments.run_dir, "log.jsonl"), target)
            os.chmod(target, 0o644)
    else:
        settings = read_bundle_settings(arguments.settings)
        name = settings["name"]
        components = {role: os.path.join(arguments.runs, run) for role, run in settings["components"].items()}
        evaluation = read_json(arguments.evaluation) if arguments.evaluation else {}
        ship_bundle(name, components, settings["title"], evaluation, settings["options"], settings["kind"],
                    notes=settings["notes"])
    print(f"shipped pretrained/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
