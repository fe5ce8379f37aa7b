"""Spec strings, option checking, collate, the epoch loader and binarisation."""

import pytest
import torch

from vaestudio.common.batch import Batch
from vaestudio.data import Example, collate, make_loader, open_source, parse_spec


def test_spec_strings_are_parsed():
    assert parse_spec("shapes") == ("shapes", None)
    assert parse_spec(" Folder:/data/my cats ") == ("folder", "/data/my cats")
    assert parse_spec("hf:user/name") == ("hf", "user/name")


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown data source 'cifar'.*shapes, digits, mnist, fashion-mnist, emoji, emoji-font, photos, folder:PATH, idx:PATH, hf:NAME",
    ):
        open_source("cifar")


def test_arguments_are_required_or_refused():
    with pytest.raises(ValueError, match="needs a path: write folder:PATH"):
        open_source("folder")
    with pytest.raises(ValueError, match="takes no argument"):
        open_source("digits:8")


def test_unknown_options_list_the_valid_ones():
    with pytest.raises(ValueError, match=r"no option\(s\) \['colour'\].*num_images"):
        open_source("shapes", colour="red")
    with pytest.raises(ValueError, match="binarize must be one of"):
        open_source("digits", binarize="sometimes")


def example(label=None, caption=None, value=0.5):
    return Example(image=torch.full((1, 2, 2), value), label=label, caption=caption)


def test_collate_builds_a_batch():
    batch = collate([example(1, "a"), example(2, None)])
    assert isinstance(batch, Batch)
    assert batch.images.shape == (2, 1, 2, 2)
    assert batch.labels.dtype == torch.int64 and batch.labels.tolist() == [1, 2]
    assert batch.captions == ["a", ""]
    bare = collate([example(), example()])
    assert bare.labels is None and bare.captions is None
    with pytest.raises(ValueError, match="some examples have labels"):
        collate([example(1), example(None)])


def test_loader_batches_are_reproducible_per_seed_and_epoch():
    source = open_source("digits")
    loader = make_loader(source, batch_size=100, shuffle=True, seed=3, drop_last=True)
    assert len(loader) == len(source) // 100
    first_epoch = [batch.labels for batch in loader]
    second_epoch = [batch.labels for batch in loader]
    assert len(first_epoch) == len(loader)
    assert not all(torch.equal(a, b) for a, b in zip(first_epoch, second_epoch))
    resumed = make_loader(source, batch_size=100, shuffle=True, seed=3, drop_last=True)
    resumed.set_epoch(1)
    assert all(torch.equal(a, b.labels) for a, b in zip(second_epoch, resumed))
    in_order = next(iter(make_loader(source, batch_size=4, shuffle=False, seed=0, drop_last=False)))
    assert in_order.labels.tolist() == [source[index].label for index in range(4)]
    with pytest.raises(ValueError, match="not both"):
        make_loader(source, 4, shuffle=True, seed=0, drop_last=False, sampler=range(4))


def test_loader_with_workers_matches_the_single_process_loader():
    source = open_source("digits", "test")
    single = [batch.images for batch in make_loader(source, 64, shuffle=True, seed=1, drop_last=False)]
    workers = [
        batch.images
        for batch in make_loader(source, 64, shuffle=True, seed=1, drop_last=False, num_workers=2)
    ]
    assert all(torch.equal(a, b) for a, b in zip(single, workers))


def test_static_binarisation_thresholds_at_one_half():
    grey, binary = open_source("digits"), open_source("digits", binarize="static")
    assert torch.equal(binary[5].image, (grey[5].image > 0.5).float())


def test_dynamic_binarisation_resamples_each_epoch():
    grey = open_source("digits")
    source = open_source("digits", binarize="dynamic", binarize_seed=7)
    first = source[9].image
    assert set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, source[9].image)  # the same within an epoch
    source.set_epoch(1)
    assert not torch.equal(first, source[9].image)  # fresh draws in the next one
    draws = []
    for epoch in range(400):
        source.set_epoch(epoch)
        draws.append(source[9].image)
    assert torch.allclose(torch.stack(draws).mean(dim=0), grey[9].image, atol=0.1)  # Bernoulli(pixel)
    loader = make_loader(source, 16, shuffle=False, seed=0, drop_last=False)
    epoch_zero, epoch_one = next(iter(loader)).images, next(iter(loader)).images
    assert not torch.equal(epoch_zero, epoch_one)  # the loader advances the source's epoch
