"""Loading models: shipped names, folders, bundles, Hub ids (offline), listing; the sample command."""

import json
import os

import pytest
import torch
from PIL import Image

from vaestudio import hub
from vaestudio.checkpoints import Bundle, CheckpointError, save_bundle, save_model
from vaestudio.cli import main as cli_main


@pytest.fixture()
def zoo(tmp_path, monkeypatch, tiny_bundle, tiny_vae_2d):
    """A pretrained/ folder with one bundle and one plain model."""
    root = tmp_path / "pretrained"
    save_bundle(str(root / "tiny-shapes"), "text_to_image", tiny_bundle.components, {"neutral_prompt": "a shape"})
    (root / "tiny-shapes" / "README.md").write_text("# tiny shapes\n")
    (root / "tiny-shapes" / "metrics.json").write_text(json.dumps({"psnr": 1.5}))
    save_model(tiny_vae_2d, str(root / "tiny-digits"))
    (root / "tiny-digits" / "recipe.toml").write_text('[data]\nsource = "digits"\n')
    monkeypatch.setenv("VAESTUDIO_PRETRAINED", str(root))
    return root


def test_shipped_names_load_as_bundles_and_models(zoo, tiny_bundle):
    bundle = hub.load("tiny-shapes")
    assert isinstance(bundle, Bundle) and bundle.kind == "text_to_image"
    assert sorted(bundle.components) == ["prior", "scorer", "vqvae"]
    assert bundle.options == {"neutral_prompt": "a shape"}
    for role, model in bundle.components.items():
        expected = tiny_bundle[role].state_dict()
        assert all(torch.equal(tensor, expected[name]) for name, tensor in model.state_dict().items())
        assert not model.training
    model = hub.load("tiny-digits")
    assert model.model_type == "vae" and hub.training_data(model) == {"source": "digits"}


def test_local_folders_load(zoo):
    assert isinstance(hub.load(str(zoo / "tiny-shapes")), Bundle)
    assert hub.load(str(zoo / "tiny-digits")).config.latent_dim == 2
    with pytest.raises(CheckpointError, match="neither"):
        hub.load(str(zoo))


def test_list_models(zoo):
    listed = {info.name: info for info in hub.list_models()}
    assert sorted(listed) == ["tiny-digits", "tiny-shapes"]
    assert listed["tiny-shapes"].kind == "text_to_image" and listed["tiny-shapes"].metrics == {"psnr": 1.5}
    assert listed["tiny-shapes"].card.startswith("# tiny shapes")
    assert listed["tiny-digits"].kind == "vae" and listed["tiny-digits"].card == ""


def test_unknown_names_and_offline_hub_ids_are_clear_errors(zoo, monkeypatch):
    with pytest.raises(hub.ModelNotFoundError, match="tiny-digits"):
        hub.load("no-such-model")
    with pytest.raises(hub.ModelNotFoundError):
        hub.load("")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.ModelNotFoundError, match="offline|OFFLINE"):
        hub.load("someone/some-vae")


def test_bundle_pointing_outside_itself_is_refused(tmp_path, tiny_vae_2d):
    save_model(tiny_vae_2d, str(tmp_path / "elsewhere"))
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "bundle.json").write_text(json.dumps({"kind": "x", "components": {"a": "../elsewhere"}}))
    with pytest.raises(CheckpointError, match="outside"):
        hub.load(str(tmp_path / "bundle"))


def test_sample_command_writes_pngs_and_a_manifest(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli_main(["sample", "tiny-shapes", "--prompt", "a red circle", "--num", "3", "--seed", "5",
                     "--rerank", "4", "--out", str(out)])
    assert code == 0
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [record["prompt"] for record in records] == ["a red circle"] * 3
    assert all(record["seed"] == 5 and isinstance(record["score"], float) for record in records)
    for record in records:
        assert Image.open(out / record["file"]).size == (16, 16)
    code = cli_main(["sample", "tiny-digits", "--num", "2", "--out", str(out / "digits")])
    assert code == 0 and len(os.listdir(out / "digits")) == 3


def test_sample_command_reports_bad_models(zoo, tmp_path, capsys):
    assert cli_main(["sample", "no-such-model", "--out", str(tmp_path)]) == 2
    assert "no model called" in capsys.readouterr().err


def test_sample_command_draws_the_label_of_a_class_bundle(zoo, tmp_path, capsys, tiny_class_bundle):
    save_bundle(str(zoo / "tiny-digit-codes"), "class_to_image", tiny_class_bundle.components)
    out = tmp_path / "out"
    assert cli_main(["sample", "tiny-digit-codes", "--label", "3", "--num", "2", "--out", str(out)]) == 0
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [record["label"] for record in records] == ["3", "3"]
    assert all(Image.open(out / record["file"]).size == (8, 8) for record in records)
    assert cli_main(["sample", "tiny-digit-codes", "--num", "3", "--out", str(out / "every")]) == 0
    every = [json.loads(line)["label"] for line in (out / "every" / "samples.jsonl").read_text().splitlines()]
    assert every == ["0", "1", "2"]  # no label: the classes in turn
    capsys.readouterr()
    assert cli_main(["sample", "tiny-digit-codes", "--label", "eleven", "--out", str(out)]) == 2
    assert "draws the classes 0, 1, 2" in capsys.readouterr().err
    assert cli_main(["sample", "tiny-digits", "--label", "three", "--out", str(out)]) == 2  # a VAE takes an index
    assert "class index" in capsys.readouterr().err
