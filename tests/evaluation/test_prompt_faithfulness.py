"""Prompt faithfulness of a text-conditional VAE: the checker's verdicts on its samples and reconstructions."""

import pytest
import torch

from vaestudio.evaluation import faithfulness
from vaestudio.evaluation.prompt_faithfulness import sample_faithfulness
from vaestudio.worlds.shapes.source import ShapesSource


class RenderingVAE:
    """A 'text-conditional VAE' that draws the prompt's own scene (``offset`` 0: faithful) or the scene of the
    case ``offset`` places on (unfaithful); it reconstructs an image as itself."""

    class config:  # noqa: N801  (read as model.config.condition)
        condition = "text"

    def __init__(self, cases, offset=0):
        self.scenes = {case.prompt: index for index, case in enumerate(cases)}
        self.offset = offset
        self.source = ShapesSource("test", num_images=len(cases) + offset, cache=False)

    def sample(self, count, prompt, generator=None, temperature=1.0):
        image = self.source[self.scenes[prompt] + self.offset].image  # (3, 64, 64)
        return image[None].repeat(count, 1, 1, 1)  # (count, 3, 64, 64)

    def reconstruct(self, images, captions):
        assert len(captions) == images.shape[0]
        return images


def test_a_vae_that_draws_the_prompt_is_faithful_and_one_that_draws_another_is_not():
    cases = faithfulness.test_prompts(30)
    right = sample_faithfulness(RenderingVAE(cases), cases, images_per_prompt=2)
    assert right["all_prompts"]["images"] == 60 and right["all_prompts"]["all_attributes"] >= 0.97
    assert right["held_out_pairs"]["images"] == 2 * sum(case.held_out for case in cases)
    assert right["settings"]["reranking"] == "none" and right["settings"]["images_per_prompt"] == 2
    wrong = sample_faithfulness(RenderingVAE(cases, offset=1), cases)
    assert wrong["all_prompts"]["images"] == 30 and wrong["all_prompts"]["all_attributes"] <= 0.1


def test_reconstructions_are_read_with_their_own_captions():
    report = faithfulness.reconstruction_ceiling(RenderingVAE(faithfulness.test_prompts(5)), num_images=20)
    assert report["images"] == 20 and report["all_attributes"] >= 0.95


def test_a_model_without_text_is_refused_with_where_to_go():
    from vaestudio.models import VAE, VAEConfig

    with pytest.raises(ValueError, match="evaluation.faithfulness"):
        sample_faithfulness(VAE(VAEConfig(image_size=8, latent_dim=2, hidden_sizes=(8,))), [])


def test_an_untrained_text_vae_runs_end_to_end():
    from vaestudio.models import VAE, VAEConfig, build_vocabulary

    cases = faithfulness.test_prompts(3)
    torch.manual_seed(0)
    model = VAE(VAEConfig(image_channels=3, image_size=64, latent_dim=2, hidden_sizes=(8,), condition="text",
                          text_encoder={"vocabulary": build_vocabulary(case.prompt for case in cases),
                                        "embedding_dim": 8, "num_layers": 1, "num_heads": 2}))
    report = sample_faithfulness(model, cases, images_per_prompt=2)
    assert report["all_prompts"]["images"] == 6 and 0.0 <= report["all_prompts"]["all_attributes"] <= 1.0


def test_cli_prints_json(capsys):
    import json

    from vaestudio.evaluation.prompt_faithfulness import main

    assert main(["--num-prompts", "2", "--images-per-prompt", "1", "--reconstructions", "10"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "shapes-text-cvae" and report["reconstructions"]["images"] == 10
    assert report["faithfulness"]["all_prompts"]["images"] == 2
