"""The Train tab lists every data source with whether it is here and the command that gets it."""

from __future__ import annotations

import dataclasses

import gradio as gr

from studio.app import build_demo
from studio.engine import Engine
from studio.fake_engine import FakeEngine
from studio.tabs.train import data_sources_table
from vaestudio.data import catalogue
from vaestudio.data.cache import CACHE_ENVIRONMENT_VARIABLE
from vaestudio.data.fashion_mnist import FASHION_MNIST
from vaestudio.data.mnist import MNIST


def _listing(demo: gr.Blocks) -> str:
    blocks = [block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "data-sources"]
    assert len(blocks) == 1
    return blocks[0].value


def test_the_train_tab_shows_installed_and_missing_sources():
    text = _listing(build_demo(FakeEngine()))
    rows = {line.split("|")[1].strip(): line for line in text.splitlines()[2:]}
    assert set(rows) >= {"`shapes`", "`digits`", "`mnist`", "`fashion-mnist`"}
    assert "**no**" in rows["`mnist`"] and "`vaestudio data get mnist`" in rows["`mnist`"]
    assert "| yes |" in rows["`fashion-mnist`"]


def test_the_real_engine_reports_the_data_sets_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    nowhere = {"mnist": dataclasses.replace(MNIST, package_folders=lambda: []),
               "fashion-mnist": dataclasses.replace(FASHION_MNIST, package_folders=lambda: [str(tmp_path / "none")])}
    packaged = catalogue.packaged_dataset  # the other packaged sources (emoji) look in the empty cache
    monkeypatch.setattr(catalogue, "packaged_dataset", lambda name: nowhere.get(name) or packaged(name))
    statuses = {status.name: status for status in Engine.data_source_statuses(None)}
    assert not statuses["mnist"].installed and not statuses["fashion-mnist"].installed
    assert statuses["fashion-mnist"].note == "not installed: get it with `vaestudio data get fashion-mnist`"
    assert statuses["digits"].installed and "idx:PATH" in statuses
    table = data_sources_table(list(statuses.values()))
    assert "| `mnist` | MNIST handwritten digits | **no** | not installed: get it with `vaestudio data get mnist` |" \
        in table.splitlines()
