"""scripts/ship_zoo.py: a bundle's card counts every training stage of a fine-tuned component."""

import importlib.util
import json
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "ship_zoo.py")


@pytest.fixture(scope="module")
def ship_zoo():
    spec = importlib.util.spec_from_file_location("ship_zoo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(directory, seconds: float, initialize_from: str | None = None) -> str:
    os.makedirs(directory)
    training = f'initialize_from = "{initialize_from}"\n' if initialize_from else ""
    with open(os.path.join(directory, "recipe.toml"), "w", encoding="utf-8") as stream:
        stream.write(f'[model]\ntype = "vqvae"\n\n[training]\n{training}steps = 10\n')
    with open(os.path.join(directory, "metrics.json"), "w", encoding="utf-8") as stream:
        json.dump({"training": {"seconds": seconds}, "evaluation": {"psnr": 30.0}}, stream)
    with open(os.path.join(directory, "README.md"), "w", encoding="utf-8") as stream:
        stream.write(f"- command: `vaestudio train {os.path.basename(directory)}.toml`\n- machine: test\n")
    return str(directory)


def test_training_stages_follow_initialize_from_back_to_the_first_run(ship_zoo, tmp_path):
    first = write_run(tmp_path / "first", 60.0)
    second = write_run(tmp_path / "second", 120.0, first)
    third = write_run(tmp_path / "third", 180.0, second)
    assert ship_zoo.training_stages(third) == [first, second, third]
    assert ship_zoo.training_stages(first) == [first]


def test_a_stage_that_names_a_missing_run_ends_the_chain(ship_zoo, tmp_path):
    only = write_run(tmp_path / "only", 60.0, str(tmp_path / "deleted"))
    assert ship_zoo.training_stages(only) == [only]


def test_bundle_card_sums_the_stages_time_and_lists_their_commands_in_order(ship_zoo, tmp_path):
    first = write_run(tmp_path / "first", 60.0)
    last = write_run(tmp_path / "last", 120.0, first)
    target = tmp_path / "bundle"
    os.makedirs(target / "vqvae")
    for name in ("README.md", "metrics.json"):
        with open(os.path.join(last, name), encoding="utf-8") as source:
            (target / "vqvae" / name).write_text(source.read(), encoding="utf-8")
    (target / "vqvae" / "config.json").write_text('{"model_type": "vqvae"}', encoding="utf-8")
    (target / "bundle.json").write_text('{"options": {}}', encoding="utf-8")
    card = ship_zoo.bundle_card("toy", "A toy.", {"vqvae": last}, str(target), {})
    assert "| 3.0 min (2 stages) |" in card
    assert "Total training time: 3.0 min." in card
    commands = card.split("## Commands")[1]
    assert commands.index("vaestudio train first.toml") < commands.index("vaestudio train last.toml")


@pytest.mark.parametrize("name", ["shapes", "emoji", "mnist-vqvae", "mnist-vqvae2"])
def test_each_shipped_bundle_is_what_its_settings_file_says(ship_zoo, name):
    """pretrained/NAME/bundle.json: the components and options of recipes/bundles/NAME.toml (no shell flags)."""
    root = os.path.dirname(os.path.dirname(SCRIPT))
    settings = ship_zoo.read_bundle_settings(os.path.join(root, "recipes", "bundles", f"{name}.toml"))
    with open(os.path.join(root, "pretrained", name, "bundle.json"), encoding="utf-8") as stream:
        shipped = json.load(stream)
    assert shipped["options"] == settings["options"] and shipped["kind"] == settings["kind"]
    assert set(shipped["components"]) == set(settings["components"])


def ship_toy_bundle(ship_zoo, tmp_path, name: str, settings_text: str, model_type: str) -> str:
    """Ships a bundle of two fake runs ("codes", "prior") from a settings file's text; returns its folder."""
    runs = tmp_path / "runs"
    for run, seconds in (("codes", 60.0), ("prior", 30.0)):
        write_run(runs / run, seconds)
        (runs / run / "model.safetensors").write_bytes(b"weights")
        (runs / run / "config.json").write_text(f'{{"model_type": "{model_type}", "config": {{}}}}', encoding="utf-8")
    settings_file = tmp_path / f"{name}.toml"
    settings_file.write_text(settings_text, encoding="utf-8")
    settings = ship_zoo.read_bundle_settings(str(settings_file))
    components = {role: str(runs / run) for role, run in settings["components"].items()}
    ship_zoo.ship_bundle(settings["name"], components, settings["title"], {}, settings["options"], settings["kind"],
                         root=str(tmp_path / "pretrained"), notes=settings["notes"])
    return str(tmp_path / "pretrained" / name)


def test_shipping_a_bundle_from_its_settings_file(ship_zoo, tmp_path):
    folder = ship_toy_bundle(ship_zoo, tmp_path, "toy", 'title = "A toy."\n[components]\nvqvae = "codes"\n'
                             'prior = "prior"\n[options]\nneutral_prompt = "a toy"\ntemperature = 0.5\n', "vqvae")
    with open(os.path.join(folder, "bundle.json"), encoding="utf-8") as stream:
        document = json.load(stream)
    assert document == {"kind": "text_to_image", "components": {"vqvae": "vqvae", "prior": "prior"},
                        "options": {"neutral_prompt": "a toy", "temperature": 0.5}}
    bad = tmp_path / "bad.toml"
    bad.write_text('neutral_prompt = "flat"\n[components]\nvqvae = "codes"\n', encoding="utf-8")
    with pytest.raises(SystemExit, match="a bundle file has"):
        ship_zoo.read_bundle_settings(str(bad))


def test_a_two_level_bundle_card_names_its_kind_and_how_it_samples(ship_zoo, tmp_path):
    run = write_run(tmp_path / "vqvae2", 60.0)
    target = tmp_path / "bundle"
    os.makedirs(target / "vqvae")
    (target / "vqvae" / "config.json").write_text('{"model_type": "vqvae"}', encoding="utf-8")
    (target / "bundle.json").write_text('{"options": {}}', encoding="utf-8")
    card = ship_zoo.bundle_card("toy2", "A toy.", {"vqvae": run}, str(target),
                                {"bottom_prior_bits_given_shuffled_top": 9.0}, kind="two_level",
                                notes="## How it was trained\n\nSized for a shared CPU.")
    assert "## How it was trained\n\nSized for a shared CPU." in card
    assert "A `two_level` bundle" in card and "| bottom_prior_bits_given_shuffled_top | 9 |" in card
    assert "vaestudio sample toy2" in card and "## Prompts" not in card


def test_a_code_prior_bundle_card_names_its_kind_ends_with_its_notes_and_has_no_prompt_section(ship_zoo, tmp_path):
    folder = ship_toy_bundle(ship_zoo, tmp_path, "toy-dvae", 'kind = "code_prior"\ntitle = "A toy."\n'
                             'notes = """\n## Why\n\nBecause."""\n[components]\nvqvae = "codes"\nprior = "prior"\n',
                             "dvae")
    with open(os.path.join(folder, "README.md"), encoding="utf-8") as stream:
        card = stream.read()
    assert "A `code_prior` bundle" in card and "## Prompts" not in card
    assert card.rstrip().endswith("## Why\n\nBecause.")
