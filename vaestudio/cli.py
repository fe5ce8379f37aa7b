"""`vaestudio train | sample | eval | data | lesson | info` (benchmarks: `make bench` or `python -m bench.run_all` in a checkout).

Each subcommand is one ``add_<name>(commands)`` function that declares its arguments and
sets a handler; ``build_parser`` lists them. Heavy imports happen inside the handlers, so
``vaestudio --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from vaestudio.data_command import add_data
from vaestudio.lesson_command import add_lesson
from vaestudio.sample_command import add_sample

PRIOR_TYPES = ("pixelcnn_prior", "pixelcnn_bottom_prior")  # models that need their VQ-VAE to be evaluated


# -- info -------------------------------------------------------------------------------------------
def _info(arguments: argparse.Namespace) -> int:
    from vaestudio import describe_backend

    print(describe_backend())
    return 0


def add_info(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser("info", help="which operator backend is active, and why")
    info.set_defaults(handler=_info)


# -- train ------------------------------------------------------------------------------------------
def _train(arguments: argparse.Namespace) -> int:
    import os

    from vaestudio.training import RecipeError, load_recipe, train
    from vaestudio.training.checkpointing import ResumeError

    try:
        recipe = load_recipe(arguments.recipe, arguments.set)
        out_dir = arguments.out or os.path.join("runs", recipe.name)
        command = "vaestudio " + " ".join(shlex.quote(part) for part in sys.argv[1:])
        result = train(recipe, out_dir, resume=arguments.resume, show_progress=not arguments.quiet, command=command)
    except (RecipeError, ResumeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if result.rank > 0:
        return 0
    if result.saved:
        print(json.dumps({"out_dir": result.out_dir, "steps": result.step, **result.metrics}, indent=2))
    else:
        print(f"stopped after step {result.step} (training.stop_after); resume with --resume", file=sys.stderr)
    return 0


def add_train(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a model from a recipe (TOML)",
        description="Trains what a recipe says. Single process, or data parallel under "
                    "`torchrun --nproc_per_node N -m vaestudio.cli train ...` (gloo on CPU, nccl on CUDA).",
    )
    train.add_argument("recipe", help="a recipe file, e.g. recipes/shapes-vqvae.toml")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a recipe key with a TOML value, e.g. --set training.steps=100 "
                            "--set model.num_codes=64 (repeatable)")
    train.add_argument("--out", help="output folder (default: runs/RECIPE_NAME); becomes the model folder")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)


# -- eval -------------------------------------------------------------------------------------------
def _eval(arguments: argparse.Namespace) -> int:
    import torch

    from vaestudio.data import open_source
    from vaestudio.evaluation import evaluate, vqvae_for_prior
    from vaestudio.hub import load, resolve

    try:
        directory = resolve(arguments.model)
        model = load(arguments.model)
        if not hasattr(model, "model_type"):
            raise ValueError(f"{arguments.model} is a bundle; evaluate one of its component folders")
        options = {} if arguments.binarize is None else {"binarize": arguments.binarize}
        vqvae = load(arguments.vqvae) if arguments.vqvae else (
            vqvae_for_prior(directory) if model.model_type in PRIOR_TYPES else None)
        image_size = getattr((vqvae or model).config, "image_size", None)
        source = open_source(arguments.data, split=arguments.split, image_size=image_size, **options)
    except (OSError, ValueError) as error:  # no such model or data, a bad split or option
        print(f"error: {error}", file=sys.stderr)
        return 2
    torch.manual_seed(arguments.seed)
    result = evaluate(model, source, batch_size=arguments.batch_size, iwae_k=arguments.iwae_k, limit=arguments.limit,
                      vqvae=vqvae, seed=arguments.seed)
    print(json.dumps({"model": arguments.model, "data": arguments.data, "split": arguments.split, **result},
                     indent=2))
    return 0


def add_eval(commands: argparse._SubParsersAction) -> None:
    evaluation = commands.add_parser(
        "eval", help="measure a model on a data split; prints JSON",
        description="VAEs: ELBO, IWAE-k bound, NLL estimate, bits/dim, active units and KL per dimension; AE and WAE: MMD of the codes to N(0, I); all: MSE and PSNR of reconstructions; "
                    "VQ models: codebook usage, perplexity, dead codes over the whole split; priors: bits per code.",
    )
    evaluation.add_argument("model", help="a shipped model name, a model folder, or a training --out folder")
    evaluation.add_argument("--data", required=True, help="data spec: shapes, digits, emoji, folder:PATH, idx:PATH...")
    evaluation.add_argument("--split", default="test")
    evaluation.add_argument("--iwae-k", type=int, default=100,
                            help="importance samples for the IWAE bound (VAEs; 5000 for the paper's NLL; 0 skips)")
    evaluation.add_argument("--batch-size", type=int, default=100)
    evaluation.add_argument("--limit", type=int, help="only the first N images of the split")
    evaluation.add_argument("--binarize", choices=["static", "dynamic"],
                            help="binarise the images (dynamic: one fixed Bernoulli draw, as for MNIST NLLs)")
    evaluation.add_argument("--vqvae", help="a prior's VQ-VAE (default: the one its folder refers to)")
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.set_defaults(handler=_eval)


# -- the parser ---------------------------------------------------------------------------------------
SUBCOMMANDS = [add_train, add_sample, add_eval, add_data, add_lesson, add_info]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaestudio", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


if __name__ == "__main__":
    sys.exit(main())
