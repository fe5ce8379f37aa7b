"""The checkpoint format: config.json carries format_version 1; folders written before versions (format 0,
every shipped folder of pretrained/) still load; a newer format is refused with a clear error."""

from __future__ import annotations

import json
import os

import pytest
import torch

from vaestudio import hub
from vaestudio.checkpoints import FORMAT_VERSION, CheckpointError, load_model, read_config, save_model
from vaestudio.models import VAE, VAEConfig

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(16,)))
    save_model(model, str(tmp_path))
    return model, tmp_path


def rewrite(folder, change) -> None:
    path = folder / "config.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_saved_configs_carry_the_format_version(saved):
    _, folder = saved
    assert FORMAT_VERSION == 1
    assert json.loads((folder / "config.json").read_text())["format_version"] == 1


def test_a_folder_without_a_version_loads_as_format_zero(saved):
    model, folder = saved
    rewrite(folder, lambda document: document.pop("format_version"))
    loaded = load_model(str(folder))
    assert loaded.config == model.config
    assert all(torch.equal(loaded.state_dict()[name], tensor) for name, tensor in model.state_dict().items())


@pytest.mark.parametrize("version, message", [(2, "newer than this vaestudio reads"), ("1", "whole number"),
                                              (-1, "whole number")])
def test_unreadable_versions_are_clear_errors(saved, version, message):
    _, folder = saved
    rewrite(folder, lambda document: document.update(format_version=version))
    with pytest.raises(CheckpointError, match=message):
        load_model(str(folder))


def shipped_model_folders() -> list[str]:
    root = os.path.join(REPOSITORY, "pretrained")
    return sorted(os.path.dirname(os.path.join(path, "config.json")) for path, _, files in os.walk(root)
                  if "config.json" in files)


FORMAT_ZERO_FOLDERS = 20  # shipped folders written before format versions (the emoji bundle: retrained since)


def test_every_shipped_folder_is_format_zero_and_loads():
    """The zoo shipped before format versions stays format 0 (each config still reads and loads as it is);
    folders shipped since carry the current version and load too."""
    folders = shipped_model_folders()
    format_zero = 0
    for folder in folders:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as stream:
            version = json.load(stream).get("format_version", 0)
        assert version in (0, 1), folder
        format_zero += version == 0
        model_type, _ = read_config(folder)
        assert type(load_model(folder)).model_type == model_type
    assert format_zero >= FORMAT_ZERO_FOLDERS, "a format-0 folder was rewritten; keep the format-0 copies tested"
    assert hub.load("shapes").kind == "text_to_image"


def test_format_zero_flat_text_fields_nest_into_the_text_encoder(tmp_path):
    """A format-0 prior (text_vocabulary, text_embedding_dim, text_options) and a format-0 scorer (vocabulary,
    text_dim, text_layers, text_heads, max_tokens) load with the same weights and a nested text_encoder."""
    from vaestudio.models import (
        ContrastiveScorer,
        ContrastiveScorerConfig,
        PixelCNNPrior,
        PixelCNNPriorConfig,
    )

    torch.manual_seed(0)
    vocabulary = ["<pad>", "<unk>", "a", "red", "circle"]
    text = {"vocabulary": vocabulary, "embedding_dim": 8, "num_layers": 1, "num_heads": 2, "max_tokens": 6}
    models = {
        "prior": (PixelCNNPrior(PixelCNNPriorConfig(num_codes=8, channels=8, num_layers=2, head_channels=8,
                                                    condition="text", text_encoder=text)),
                  {"text_vocabulary": vocabulary, "text_embedding_dim": 8,
                   "text_options": {"num_layers": 1, "num_heads": 2, "max_tokens": 6}}),
        "scorer": (ContrastiveScorer(ContrastiveScorerConfig(image_size=16, hidden_sizes=(4,), embedding_dim=8,
                                                             text_encoder=text)),
                   {"vocabulary": vocabulary, "text_dim": 8, "text_layers": 1, "text_heads": 2, "max_tokens": 6}),
    }
    for name, (model, flat) in models.items():
        folder = tmp_path / name
        save_model(model, str(folder))
        rewrite(folder, lambda document, flat=flat: (document.pop("format_version"), document["config"].pop(
            "text_encoder"), document["config"].update(flat)))
        loaded = load_model(str(folder))
        assert loaded.config == model.config and loaded.config.text_encoder.max_tokens == 6
        assert all(torch.equal(loaded.state_dict()[key], value) for key, value in model.state_dict().items())
