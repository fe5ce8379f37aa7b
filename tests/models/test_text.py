"""Tokenizer and text encoder: vocabulary, unknown words, truncation, empty and unicode prompts."""

import time

import pytest
import torch

from vaestudio.models.text import (
    PAD_ID,
    UNKNOWN_ID,
    TextEncoder,
    TextEncoderConfig,
    Tokenizer,
    build_vocabulary,
    tokenize,
)

CAPTIONS = ["A red circle.", "a blue square, small", "A red square!", "Ünïcode café"]


def small_encoder(max_tokens: int = 8) -> TextEncoder:
    torch.manual_seed(0)
    config = TextEncoderConfig(
        build_vocabulary(CAPTIONS), embedding_dim=16, num_layers=1, num_heads=2, max_tokens=max_tokens
    )
    return TextEncoder(config).eval()


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("A Red circle, on BLUE!") == ["a", "red", "circle", ",", "on", "blue", "!"]
    assert tokenize("  ") == []
    assert tokenize("one two three", max_tokens=2) == ["one", "two"]


def test_tokenize_unicode():
    assert tokenize("Ünïcode CAFÉ 🙂 straße") == ["ünïcode", "café", "🙂", "strasse"]  # case-folded
    assert tokenize("Ｆｕｌｌｗｉｄｔｈ") == ["fullwidth"]  # NFKC


def test_build_vocabulary_orders_by_count_and_respects_min_count():
    vocabulary = build_vocabulary(CAPTIONS)
    assert vocabulary[:2] == ["<pad>", "<unk>"]
    assert vocabulary[2] == "a" and set(vocabulary[3:5]) == {"red", "square"}  # most frequent first
    assert len(vocabulary) == len(set(vocabulary))
    frequent = build_vocabulary(CAPTIONS, min_count=2)
    assert frequent == ["<pad>", "<unk>", "a", "red", "square"]
    assert build_vocabulary([]) == ["<pad>", "<unk>"]


def test_unknown_words_map_to_unk_and_are_reported():
    tokenizer = Tokenizer(build_vocabulary(CAPTIONS), max_tokens=8)
    ids = tokenizer.ids("a purple circle purple")
    assert ids[1] == UNKNOWN_ID and ids[3] == UNKNOWN_ID and ids[0] != UNKNOWN_ID
    assert tokenizer.unknown_words("a purple circle, purple 🙂") == ["purple", "🙂"]
    assert tokenizer.unknown_words("a red circle") == []


def test_long_prompt_keeps_its_first_tokens():
    tokenizer = Tokenizer(build_vocabulary(CAPTIONS), max_tokens=4)
    text = "red circle blue square " + "x" * 10_000
    assert tokenizer.ids(text) == tokenizer.ids("red circle blue square")
    assert tokenizer.is_truncated(text) and not tokenizer.is_truncated("red circle")


def test_ten_thousand_characters_encode_quickly_and_finitely():
    encoder = small_encoder(max_tokens=8)
    prompt = ("red circle " * 1000)[:10_000]
    start = time.perf_counter()
    with torch.no_grad():
        embedding = encoder([prompt])
        features = encoder.token_features([prompt])
    assert time.perf_counter() - start < 1.0
    assert embedding.shape == (1, 16) and torch.isfinite(embedding).all()
    assert features.features.shape == (1, 8, 16)  # truncated to max_tokens


def test_empty_prompt_is_one_attended_pad_and_not_nan():
    encoder = small_encoder()
    tokens = encoder.tokenizer.encode(["", "a red circle"])
    assert tokens.token_ids[0].tolist() == [PAD_ID, PAD_ID, PAD_ID]
    assert tokens.mask[0].tolist() == [True, False, False]
    with torch.no_grad():
        embeddings = encoder(["", "   ", "a red circle"])
    assert torch.isfinite(embeddings).all()
    torch.testing.assert_close(embeddings[0], embeddings[1])  # both are the "no text" embedding


def test_encoder_shapes_padding_and_gradients():
    encoder = small_encoder()
    features = encoder.token_features(["a red circle", "square"])
    assert features.features.shape == (2, 3, 16) and features.mask.tolist() == [
        [True] * 3,
        [True, False, False],
    ]
    assert features.features[1, 1:].abs().max() == 0  # zero on padding
    # padding does not change a prompt's embedding
    with torch.no_grad():
        alone = encoder(["square"])
        batched = encoder(["square", "a red circle, small"])
    torch.testing.assert_close(alone[0], batched[0], atol=1e-5, rtol=1e-5)
    encoder.train()
    encoder(["a red circle"]).sum().backward()
    assert encoder.token_embedding.weight.grad is not None


def test_vocabulary_validation():
    with pytest.raises(ValueError, match="must start with"):
        Tokenizer(["red", "circle"], max_tokens=4)
    with pytest.raises(TypeError, match="list of prompts"):
        Tokenizer(build_vocabulary(CAPTIONS), max_tokens=4).encode("a red circle")
    with pytest.raises(ValueError, match="divisible"):
        TextEncoder(TextEncoderConfig(build_vocabulary(CAPTIONS), embedding_dim=10, num_heads=4))
