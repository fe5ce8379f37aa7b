"""Short dVAE diagnosis runs on MNIST (docs/training-lab.md, "dVAE"): is a setting collapsing the code map?

    OMP_NUM_THREADS=1 python scripts/dvae_probe.py NAME STEPS [KEY=VALUE ...]

KEY is a DVAEConfig field (likelihood=bernoulli, logits_init_scale=0.01, straight_through=true, num_codes=128,
...) or a loop setting: lr (1e-3), batch (64), clip (0: off), warmup (KL warm-up steps from 0; 0: off),
every (100), seed (0). The model starts from the MNIST recipe's body (32 channels, 7x7 map of 64 codes,
temperature 1 -> 1/16 over 6000 steps). Adam at a constant learning rate on the first 30,000 training images;
every ``every`` steps it prints (and appends to runs/lab/curves.jsonl) the PSNR of the argmax reconstructions,
the codes used and their perplexity on the first 512 test images, and the last step's training logs.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

from vaestudio.common.batch import Batch
from vaestudio.common.metrics import CodeUsage, mean_squared_error, psnr
from vaestudio.data import open_source
from vaestudio.models.dvae import DVAE, DVAEConfig
from vaestudio.training.recipes import parse_override

BODY = {"image_channels": 1, "image_size": 28, "hidden_channels": 32, "residual_channels": 16,
        "num_residual_blocks": 2, "downsample_factor": 4, "num_codes": 64, "code_dim": 32, "anneal_steps": 6000}
LOOP = {"lr": 1e-3, "batch": 64, "clip": 0.0, "warmup": 0, "every": 100, "seed": 0}
LOGGED = ("mse", "kl", "temperature", "kl_weight", "reconstruction")


def settings(arguments: list[str]) -> tuple[dict, dict]:
    """KEY=VALUE arguments (TOML values, bare words as strings) -> (config fields, loop settings)."""
    config, loop = dict(BODY), dict(LOOP)
    for argument in arguments:
        (key,), value = parse_override(argument)
        if key in loop:
            loop[key] = type(loop[key])(value)
        else:
            config[key] = value
    return config, loop


def measure(model: DVAE, images: torch.Tensor) -> dict:
    model.eval()
    with torch.no_grad():
        codes = model.encode_codes(images)  # (N, 7, 7)
        value = float(psnr(mean_squared_error(images, model.decode_codes(codes))).mean())
    model.train()
    usage = CodeUsage(model.config.num_codes)
    usage.add(codes)
    summary = usage.summary()
    return {"psnr": round(value, 2), "used": summary["used_codes"], "perplexity": round(summary["perplexity"], 1)}


def main(arguments: list[str]) -> None:
    name, steps = arguments[0], int(arguments[1])
    config, loop = settings(arguments[2:])
    torch.set_num_threads(1)
    torch.manual_seed(loop["seed"])
    train_images = torch.from_numpy(open_source("mnist", split="train").images[:30000]).float()[:, None] / 255
    test_images = torch.from_numpy(open_source("mnist", split="test").images[:512]).float()[:, None] / 255
    model = DVAE(DVAEConfig(**config))
    optimizer = torch.optim.Adam(model.parameters(), lr=loop["lr"])
    generator = torch.Generator().manual_seed(loop["seed"])
    started, logs = time.time(), {}
    os.makedirs("runs/lab", exist_ok=True)
    for step in range(steps + 1):
        if step % loop["every"] == 0 or step == steps:
            line = {"name": name, "step": step, **measure(model, test_images), "seconds": round(time.time() - started),
                    **{key: round(logs[key], 3) for key in LOGGED if key in logs}}
            print(json.dumps(line), flush=True)
            with open("runs/lab/curves.jsonl", "a", encoding="utf-8") as stream:
                stream.write(json.dumps({**line, "arguments": arguments[2:]}) + "\n")
        if step == steps:
            break
        indices = torch.randint(0, train_images.shape[0], (loop["batch"],), generator=generator)  # (B,)
        model.kl_weight_factor = min(1.0, step / loop["warmup"]) if loop["warmup"] > 0 else 1.0
        output = model.training_loss(Batch(train_images[indices]))
        optimizer.zero_grad()
        output.loss.backward()
        if loop["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), loop["clip"])
        optimizer.step()
        model.on_train_step_end(step + 1)
        logs = output.logs


if __name__ == "__main__":
    main(sys.argv[1:])
