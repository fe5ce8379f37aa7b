"""Measures a VQ-VAE-2 and its two priors on MNIST test (docs/experiments/mnist-vqvae2.md):

- ``psnr`` of the reconstructions (dB, mean over images) and the codebook perplexity of each level;
- ``top_prior_bits_per_code`` and ``bottom_prior_bits_per_code`` (given each image's own top codes), against
  ``log2_num_codes`` (a uniform guess);
- ``bottom_prior_bits_given_shuffled_top``: the bottom codes scored under a neighbour's top codes (the next
  image of the batch): far above the own-top number when the bottom prior reads its top condition;
- ``sample_seconds``: 16 samples, top then bottom, through the cached sampler (this machine, one thread).

    python scripts/mnist_vqvae2_measures.py --vqvae runs/zoo/mnist-vqvae2 --top runs/zoo/mnist-vqvae2-top-prior \\
        --bottom runs/zoo/mnist-vqvae2-bottom-prior --out runs/zoo/mnist-vqvae2-measures.json
    python scripts/mnist_vqvae2_measures.py --bundle mnist-vqvae2          # the shipped bundle

The JSON it writes is what ``scripts/ship_zoo.py bundle ... --evaluation`` puts on the bundle's card.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout's vaestudio


def measure(vqvae, top_prior, bottom_prior, source, batch_size: int = 100, limit: int | None = None) -> dict:
    from torch.utils.data import DataLoader, Subset

    from vaestudio.common.metrics import CodeUsage, Mean, mean_squared_error, psnr
    from vaestudio.data import collate
    from vaestudio.models.bottom_prior import TopCondition
    from vaestudio.pipelines.two_level import TwoLevel

    count = len(source) if limit is None else min(limit, len(source))
    loader = DataLoader(Subset(source, range(count)), batch_size=batch_size, collate_fn=collate)
    means = {name: Mean() for name in ("psnr", "mse", "top_nats", "bottom_nats", "bottom_nats_shuffled")}
    usage = {"top": CodeUsage(vqvae.config.num_codes), "bottom": CodeUsage(vqvae.config.num_codes)}
    started = time.perf_counter()
    with torch.no_grad():
        for batch in loader:
            images = batch.images  # (B, 1, 28, 28)
            codes = vqvae.encode_codes(images)  # top (B, 7, 7), bottom (B, 14, 14)
            errors = mean_squared_error(images, vqvae.decode_codes(codes))  # (B,)
            means["mse"].add(errors)
            means["psnr"].add(psnr(errors))
            usage["top"].add(codes.top)
            usage["bottom"].add(codes.bottom)
            means["top_nats"].add(-top_prior.log_prob(codes.top) / codes.top[0].numel())
            own = -bottom_prior.log_prob(codes.bottom, TopCondition(codes.top)) / codes.bottom[0].numel()
            neighbour = torch.roll(codes.top, shifts=1, dims=0)  # each image gets the previous image's top codes
            shuffled = -bottom_prior.log_prob(codes.bottom, TopCondition(neighbour)) / codes.bottom[0].numel()
            means["bottom_nats"].add(own)
            means["bottom_nats_shuffled"].add(shuffled)
    seconds = time.perf_counter() - started
    pipeline = TwoLevel(vqvae, top_prior, bottom_prior)
    sampling_started = time.perf_counter()
    pipeline.sample(16, seed=0)
    sample_seconds = time.perf_counter() - sampling_started
    bits = 1.0 / math.log(2.0)
    top_usage, bottom_usage = usage["top"].summary(), usage["bottom"].summary()
    return {
        "images": count,
        "psnr": means["psnr"].value,
        "mse": means["mse"].value,
        "top_perplexity": top_usage["perplexity"],
        "bottom_perplexity": bottom_usage["perplexity"],
        "top_dead_codes": top_usage["dead_codes"],
        "bottom_dead_codes": bottom_usage["dead_codes"],
        "log2_num_codes": math.log2(vqvae.config.num_codes),
        "top_prior_bits_per_code": means["top_nats"].value * bits,
        "bottom_prior_bits_per_code": means["bottom_nats"].value * bits,
        "bottom_prior_bits_given_shuffled_top": means["bottom_nats_shuffled"].value * bits,
        "measure_seconds": seconds,
        "sample_seconds": sample_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", help="a two_level bundle (shipped name or folder) instead of the three runs")
    parser.add_argument("--vqvae", help="the VQ-VAE-2's run (model folder)")
    parser.add_argument("--top", help="the top prior's run")
    parser.add_argument("--bottom", help="the bottom prior's run")
    parser.add_argument("--limit", type=int, help="only the first N test images (default: all 10,000)")
    parser.add_argument("--out", help="write the JSON here too")
    arguments = parser.parse_args(argv)
    from vaestudio.checkpoints import load_model
    from vaestudio.common.files import print_report
    from vaestudio.data import open_source
    from vaestudio.hub import load

    torch.set_num_threads(1)
    if arguments.bundle:
        bundle = load(arguments.bundle)
        vqvae, top, bottom = bundle["vqvae"], bundle["top_prior"], bundle["bottom_prior"]
    elif arguments.vqvae and arguments.top and arguments.bottom:
        vqvae, top, bottom = (load_model(path).eval() for path in (arguments.vqvae, arguments.top, arguments.bottom))
    else:
        parser.error("give --bundle, or --vqvae, --top and --bottom")
    result = measure(vqvae, top, bottom, open_source("mnist", split="test"), limit=arguments.limit)
    print_report(result, arguments.out, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
