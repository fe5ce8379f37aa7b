"""Metric arithmetic: PSNR, means, and codebook usage over a whole split."""

from __future__ import annotations

import math

import pytest
import torch

from vaestudio.common.metrics import CodeUsage, Mean, mean_squared_error, psnr


def test_psnr_of_known_errors():
    images = torch.zeros(2, 3, 4, 4)
    reconstructions = torch.stack([torch.full((3, 4, 4), 0.1), torch.zeros(3, 4, 4)])
    errors = mean_squared_error(images, reconstructions)
    torch.testing.assert_close(errors, torch.tensor([0.01, 0.0]))
    torch.testing.assert_close(psnr(errors), torch.tensor([20.0, 100.0]))  # a perfect copy is capped at 100 dB


def test_mean_accumulates_over_batches():
    mean = Mean()
    assert math.isnan(mean.value)
    mean.add(torch.tensor([1.0, 2.0]))
    mean.add(torch.tensor([6.0]))
    assert mean.value == pytest.approx(3.0) and mean.count == 3


def test_code_usage_counts_over_batches_not_per_batch():
    usage = CodeUsage(num_codes=8)
    usage.add(torch.tensor([[0, 1], [2, 3]]))  # (1, 2, 2) maps: each batch uses 4 codes
    usage.add(torch.tensor([[[4, 5], [6, 7]]]))
    summary = usage.summary()
    assert summary["used_codes"] == 8 and summary["dead_codes"] == 0 and summary["usage"] == 1.0
    assert summary["perplexity"] == pytest.approx(8.0)  # uniform over 8 codes
    assert summary["codes_counted"] == 8


def test_code_usage_of_a_collapsed_codebook():
    usage = CodeUsage(num_codes=16)
    usage.add(torch.zeros(10, 3, 3, dtype=torch.int64))
    summary = usage.summary()
    assert summary["used_codes"] == 1 and summary["dead_codes"] == 15
    assert summary["perplexity"] == pytest.approx(1.0)
