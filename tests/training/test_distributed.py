"""Data-parallel training: two gloo processes on localhost train a tiny VQ-VAE like one process does.

The codebook is an EMA buffer that DDP does not broadcast (broadcast_buffers=False); the quantizer
all-reduces its per-code counts and sums instead, so both ranks must end with the same codebook,
and one process on the same global batch must end with it too (up to float summation order).
"""

from __future__ import annotations

import os
import socket

import torch
from safetensors.torch import load_file, save_file
from torch import multiprocessing

from tests.training.conftest import TINY_VQVAE
from vaestudio.training import load_recipe, train
from vaestudio.training.distributed import DeterministicSampler

# k-means init and dead-code revival pick vectors from rank 0's share of the batch, which one
# process does not see the same way; everything else must agree.
SETTINGS = ["model.kmeans_init=false", "model.dead_code_threshold=0.0", "evaluation.enabled=false",
            "training.batch_size=16", "training.steps=4"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, recipe_path: str, settings: list[str], out_dir: str,
            state_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank), VAESTUDIO_FORCE_REFERENCE=os.environ.get("VAESTUDIO_FORCE_REFERENCE", ""))
    torch.set_num_threads(1)
    result = train(load_recipe(recipe_path, settings), out_dir)
    state = {name: tensor.detach().contiguous() for name, tensor in result.model.state_dict().items()}
    save_file(state, os.path.join(state_dir, f"rank{rank}.safetensors"))


def test_two_gloo_processes_agree_with_each_other_and_with_one_process(write_recipe, tmp_path, tiny_idx_folder):
    recipe_path = write_recipe(TINY_VQVAE)
    settings = [*SETTINGS, f"data.source=idx:{tiny_idx_folder}"]  # no scikit-learn import in the workers
    multiprocessing.spawn(_worker, args=(2, _free_port(), recipe_path, settings, str(tmp_path / "ddp"), str(tmp_path)),
                          nprocs=2, join=True)
    first, second = (load_file(str(tmp_path / f"rank{rank}.safetensors")) for rank in (0, 1))
    single = train(load_recipe(recipe_path, settings), str(tmp_path / "single")).model.state_dict()
    codebooks = [name for name in first if name.endswith("codebook")]
    assert codebooks
    for name in codebooks:
        assert torch.equal(first[name], second[name]), f"{name} differs between the ranks"
        torch.testing.assert_close(first[name], single[name], atol=1e-4, rtol=1e-4)
    for name in first:  # weights too: DDP averaged the gradients like one big batch
        if name.endswith("weight"):
            torch.testing.assert_close(first[name], second[name], atol=0, rtol=0)
            torch.testing.assert_close(first[name], single[name], atol=1e-4, rtol=1e-3)
    assert os.path.isfile(tmp_path / "ddp" / "model.safetensors")  # rank 0 wrote the model folder


def test_the_sampler_splits_global_batches_over_ranks_and_resumes_mid_epoch():
    one = DeterministicSampler(100, 8, seed=3)
    ranks = [DeterministicSampler(100, 8, seed=3, rank=rank, world_size=2) for rank in (0, 1)]
    order = list(one)
    assert len(order) == 96 and sorted(order) != order  # 12 whole batches, shuffled
    shares = [list(sampler) for sampler in ranks]
    for batch in range(12):
        global_batch = set(order[8 * batch : 8 * batch + 8])
        assert set(shares[0][4 * batch : 4 * batch + 4]) | set(shares[1][4 * batch : 4 * batch + 4]) == global_batch
    one.set_position(epoch=1, start=16)
    later = list(one)
    one.set_position(epoch=1)
    assert later == list(one)[16:] and list(one) != order  # a new epoch, a new order
