"""The studio builds on any engine, names every event, and keeps torch out of the UI."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from studio.app import build_demo
from studio.engine import Engine
from studio.engine_api import StudioEngine
from studio.fake_engine import FakeEngine

STUDIO = Path(__file__).resolve().parents[2] / "studio"
REQUIRED_ENDPOINTS = {
    "text_to_image", "encode", "decode_sliders", "reset_sliders", "randomise_sliders", "interpolate", "inpaint",
    "manifold", "scatter", "decode_point", "pick_point", "codebook", "code_maps", "prior_samples", "train_start", "train_watch",
    "train_poll", "train_stop", "train_save", "train_load", "load_model", "model_card", "backend", "refresh_models",
    "lesson_open", "lesson_tab_open", "lesson_render", "train_curves", "training_units", "model_units",
}


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    return build_demo(FakeEngine())


def test_build_demo_gives_blocks_with_six_tabs(demo):
    assert isinstance(demo, gr.Blocks)
    tabs = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert tabs == ["Text to image", "Edit", "Explore", "Train", "Learn", "Models"]


def test_every_event_has_an_api_name(demo):
    unnamed = [fn.name for fn in demo.fns.values() if not fn.api_name]
    assert not unnamed, f"events without api_name: {unnamed}"
    names = [fn.api_name for fn in demo.fns.values()]
    assert len(names) == len(set(names)), "api names must be unique"
    assert REQUIRED_ENDPOINTS <= set(names), REQUIRED_ENDPOINTS - set(names)


def test_live_slider_rendering_coalesces_to_the_last_value(demo):
    decode = next(fn for fn in demo.fns.values() if fn.api_name == "decode_sliders")
    assert decode.trigger_mode == "always_last"
    assert decode.show_progress == "minimal"
    assert len(decode.targets) >= 16, "every latent and attribute slider re-renders the edit"


def test_lesson_control_renders_on_release_and_coalesces_to_the_last_value(demo):
    render = next(fn for fn in demo.fns.values() if fn.api_name == "lesson_render")
    assert render.trigger_mode == "always_last"
    assert [target[1] for target in render.targets] == ["release"]


def test_engine_calls_share_one_bounded_pool(demo):
    engine_events = [fn for fn in demo.fns.values() if fn.concurrency_id == "engine"]
    assert {fn.api_name for fn in engine_events} >= {"text_to_image", "encode", "decode_sliders", "inpaint",
                                                      "lesson_open", "lesson_render"}
    assert all(fn.concurrency_limit == engine_events[0].concurrency_limit for fn in engine_events)


def test_both_engines_implement_the_protocol():
    assert isinstance(FakeEngine(), StudioEngine)
    wanted = {name for name, member in inspect.getmembers(StudioEngine) if inspect.isfunction(member)
              and not name.startswith("_")}
    for engine_class in (Engine, FakeEngine):
        missing = {name for name in wanted if not callable(getattr(engine_class, name, None))}
        assert not missing, f"{engine_class.__name__} lacks {missing}"
        for name in wanted:
            expected = list(inspect.signature(getattr(StudioEngine, name)).parameters)
            actual = list(inspect.signature(getattr(engine_class, name)).parameters)
            assert actual == expected, f"{engine_class.__name__}.{name}{actual} != protocol {expected}"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_engine_module_imports_torch_or_vaestudio():
    offenders = {}
    for path in STUDIO.rglob("*.py"):
        if path.name == "engine.py" and path.parent == STUDIO:
            continue
        heavy = {name for name in _imported_modules(path) if name.split(".")[0] in ("torch", "vaestudio")}
        if heavy:
            offenders[str(path.relative_to(STUDIO))] = heavy
    assert not offenders


def test_building_the_ui_imports_no_torch():
    code = (
        "import sys, studio.app, studio.engine, studio.tabs.edit, studio.plots;"
        "print(sorted(m for m in ('torch', 'vaestudio.data', 'vaestudio.pipelines') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=STUDIO.parent,
                            env={"GRADIO_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin"}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
