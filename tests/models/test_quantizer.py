"""VectorQuantizer: straight-through gradient, EMA learning, k-means init, revival, usage, autocast, DDP."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from vaestudio.models.quantizer import QuantizerConfig, QuantizerOutput, VectorQuantizer


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def clustered_latents(generator, num_clusters=4, dim=8, batch=8, size=6, spread=0.05):
    """(B, D, h, w) latents drawn around num_clusters well-separated centres, and those centres (C, D)."""
    centres = torch.randn(num_clusters, dim, generator=generator) * 5  # (C, D)
    assignment = torch.randint(num_clusters, (batch * size * size,), generator=generator)  # (N,)
    flat = centres[assignment] + spread * torch.randn(batch * size * size, dim, generator=generator)  # (N, D)
    return flat.reshape(batch, size, size, dim).permute(0, 3, 1, 2).contiguous(), centres


def test_output_shapes_and_lookup(generator):
    quantizer = VectorQuantizer(num_codes=16, code_dim=8, kmeans_init=False)
    latents = torch.randn(2, 8, 5, 3, generator=generator)  # (B, D, h, w)
    output = quantizer(latents)
    assert isinstance(output, QuantizerOutput)
    assert output.quantized.shape == (2, 8, 5, 3) and output.codes.shape == (2, 5, 3)
    assert output.codes.dtype == torch.int64
    assert output.commitment_loss.shape == () and output.perplexity.shape == ()
    quantizer.eval()  # no EMA step, so lookup sees the codebook that quantised
    output = quantizer(latents)
    torch.testing.assert_close(quantizer.lookup(output.codes), output.quantized)  # up to x + (q - x) rounding
    with pytest.raises(ValueError, match="latents"):
        quantizer(torch.randn(2, 7, 5, 3))


def test_codes_are_the_nearest_codebook_rows(generator):
    quantizer = VectorQuantizer(num_codes=32, code_dim=4, kmeans_init=False).eval()
    latents = torch.randn(3, 4, 5, 5, generator=generator)  # (B, D, h, w)
    output = quantizer(latents)
    flat = latents.permute(0, 2, 3, 1).reshape(-1, 4)  # (N, D)
    brute_force = torch.cdist(flat.double(), quantizer.codebook.double()).argmin(1)  # (N,)
    assert torch.equal(output.codes.reshape(-1), brute_force)


def test_straight_through_gradient_reaches_the_encoder(generator):
    quantizer = VectorQuantizer(num_codes=16, code_dim=8, kmeans_init=False, commitment_weight=0.25)
    latents = torch.randn(2, 8, 4, 4, generator=generator, requires_grad=True)  # (B, D, h, w)
    output = quantizer(latents)
    weights = torch.randn(output.quantized.shape, generator=generator)  # a stand-in decoder loss
    (output.quantized * weights).sum().backward()
    torch.testing.assert_close(latents.grad, weights)  # identity through the quantiser
    latents.grad = None
    output = quantizer(latents)
    output.commitment_loss.backward()
    expected = 2 * 0.25 * (latents - output.quantized).detach() / latents.numel()
    torch.testing.assert_close(latents.grad, expected)


def test_ema_moves_codes_toward_the_mean_of_their_vectors(generator):
    quantizer = VectorQuantizer(num_codes=8, code_dim=8, kmeans_init=False, ema_decay=0.8)
    latents, _ = clustered_latents(generator)
    before = quantizer.codebook.clone()
    output = quantizer(latents)
    flat = latents.permute(0, 2, 3, 1).reshape(-1, 8)  # (N, D)
    codes = output.codes.reshape(-1)  # (N,)
    for code in codes.unique():
        mean = flat[codes == code].mean(0)  # (D,)
        assert (quantizer.codebook[code] - mean).norm() < (before[code] - mean).norm()
    assert not bool(torch.isnan(quantizer.codebook).any())


def test_eval_mode_leaves_the_ema_state(generator):
    quantizer = VectorQuantizer(num_codes=8, code_dim=8, kmeans_init=True).eval()
    state = {name: buffer.clone() for name, buffer in quantizer.named_buffers() if name != "usage_counts"}
    quantizer(clustered_latents(generator)[0])
    for name, buffer in state.items():
        assert torch.equal(getattr(quantizer, name), buffer), name


def test_kmeans_init_finds_the_clusters(generator):
    quantizer = VectorQuantizer(num_codes=8, code_dim=8, kmeans_init=True, kmeans_iterations=10)
    assert not bool(quantizer.initialized)
    latents, centres = clustered_latents(generator, num_clusters=4)
    torch.manual_seed(0)
    quantizer(latents)
    assert bool(quantizer.initialized)
    distances = torch.cdist(centres, quantizer.codebook)  # (C, K)
    assert float(distances.min(1).values.max()) < 0.1, "a cluster centre has no code near it"
    assert (quantizer.cluster_size > 0).all()


def test_dead_codes_are_revived_with_batch_vectors_and_fresh_ema_state(generator):
    threshold = 0.5
    quantizer = VectorQuantizer(num_codes=8, code_dim=8, kmeans_init=False, dead_code_threshold=threshold)
    with torch.no_grad():
        quantizer.codebook[6:] = 100.0  # codes 6 and 7 are far from everything: never chosen
        quantizer.embed_sum[6:] = 100.0
        quantizer.cluster_size[6:] = 0.1
    latents, _ = clustered_latents(generator)
    quantizer(latents)
    flat = latents.permute(0, 2, 3, 1).reshape(-1, 8)  # (N, D)
    for code in (6, 7):
        vector = quantizer.codebook[code]
        assert bool((flat == vector).all(1).any()), f"code {code} was not moved to a vector of the batch"
        assert float(quantizer.cluster_size[code]) == 2 * threshold
        torch.testing.assert_close(quantizer.embed_sum[code], vector * 2 * threshold)
    assert bool((quantizer.cluster_size >= threshold).all())


def test_usage_is_counted_over_an_epoch_not_a_batch():
    quantizer = VectorQuantizer(num_codes=4, code_dim=2, kmeans_init=False).eval()
    with torch.no_grad():
        quantizer.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))

    def batch_near(*codes):
        points = quantizer.codebook[list(codes)]  # (n, D)
        return points.t().reshape(1, 2, 1, len(codes))  # (1, D, 1, n)

    first = quantizer(batch_near(0, 1))
    second = quantizer(batch_near(2, 2))
    assert float(first.perplexity) == pytest.approx(2.0) and float(second.perplexity) == pytest.approx(1.0)
    usage = quantizer.usage()
    assert usage.alive_fraction == pytest.approx(0.75)  # codes 0, 1, 2 over the epoch
    counts = torch.tensor([1.0, 1.0, 2.0])
    probabilities = counts / counts.sum()
    assert usage.perplexity == pytest.approx(float(torch.exp(-(probabilities * probabilities.log()).sum())))
    quantizer.reset_usage()
    assert quantizer.usage().alive_fraction == 0.0


def test_codebook_stays_float32_under_bfloat16_autocast(generator):
    quantizer = VectorQuantizer(num_codes=16, code_dim=8, kmeans_init=True)
    latents = torch.randn(2, 8, 4, 4, generator=generator).bfloat16().requires_grad_()  # (B, D, h, w)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = quantizer(latents)
    assert output.quantized.dtype == torch.bfloat16
    output.quantized.float().sum().backward()
    assert latents.grad is not None
    quantizer.to(torch.bfloat16)
    for name in ("codebook", "cluster_size", "embed_sum", "usage_counts"):
        assert getattr(quantizer, name).dtype == torch.float32, name
    # The codes were chosen in float32: the same as for the float32 latents.
    assert torch.equal(quantizer.eval()(latents.detach()).codes, quantizer(latents.detach().float()).codes)


def test_state_dict_holds_every_buffer():
    quantizer = VectorQuantizer(num_codes=16, code_dim=8)
    assert set(quantizer.state_dict()) == {"codebook", "cluster_size", "embed_sum", "initialized", "usage_counts"}
    copy = VectorQuantizer(num_codes=16, code_dim=8)
    copy.load_state_dict(quantizer.state_dict())
    assert torch.equal(copy.codebook, quantizer.codebook)


# -- two processes -----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _global_batches(steps: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1234)
    return [clustered_latents(generator, num_clusters=6, batch=8)[0] for _ in range(steps)]  # (8, D, h, w)


def _train(quantizer: VectorQuantizer, batches: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    quantizer.train()
    for latents in batches:
        quantizer(latents)
    return {name: buffer.clone() for name, buffer in quantizer.state_dict().items() if name != "usage_counts"}


def _rank_main(rank: int, world_size: int, port: int, config: QuantizerConfig, steps: int, directory: str):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        torch.manual_seed(100 + rank)  # different random streams: revival must still agree
        quantizer = VectorQuantizer(config)
        with torch.no_grad():
            quantizer.codebook.copy_(torch.randn(config.num_codes, config.code_dim,
                                                 generator=torch.Generator().manual_seed(7)))
            quantizer.embed_sum.copy_(quantizer.codebook)
        half = 8 // world_size
        batches = [latents[rank * half:(rank + 1) * half] for latents in _global_batches(steps)]
        state = _train(quantizer, batches)
        save_file(state, os.path.join(directory, f"rank{rank}.safetensors"))
    finally:
        dist.destroy_process_group()


def _run_two_ranks(config: QuantizerConfig, steps: int, directory: str) -> list[dict[str, torch.Tensor]]:
    """Both ranks' final quantizer states, after checking that they are identical."""
    mp.spawn(_rank_main, args=(2, _free_port(), config, steps, directory), nprocs=2, join=True)
    ranks = [load_file(os.path.join(directory, f"rank{rank}.safetensors")) for rank in range(2)]
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), f"{name} differs between ranks"
    return ranks


@pytest.mark.slow
def test_two_ranks_agree_with_one_process_on_the_global_batch(tmp_path):
    config = QuantizerConfig(num_codes=12, code_dim=8, kmeans_init=False, ema_decay=0.9)
    ranks = _run_two_ranks(config, steps=4, directory=str(tmp_path))  # asserts the ranks agree
    single = VectorQuantizer(config)
    with torch.no_grad():
        single.codebook.copy_(torch.randn(12, 8, generator=torch.Generator().manual_seed(7)))
        single.embed_sum.copy_(single.codebook)
    expected = _train(single, _global_batches(4))
    for name in expected:
        torch.testing.assert_close(ranks[0][name], expected[name], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_two_ranks_agree_with_kmeans_init_and_revival(tmp_path):
    config = QuantizerConfig(num_codes=12, code_dim=8, kmeans_init=True, dead_code_threshold=0.5)
    _run_two_ranks(config, steps=3, directory=str(tmp_path))  # asserts the ranks agree
