"""The pages of docs/ that are generated or copied stay what their sources make them."""

from __future__ import annotations

import pathlib

from bench import summarise

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_benchmarks_page_is_generated_from_the_results():
    """docs/benchmarks.md is what `python -m bench.summarise --write` makes of bench/results/*.json."""
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert page == summarise.page(), "regenerate it: python -m bench.summarise --write"
    assert "### nearest_code" in page and "### The studio" in page


def test_the_shapes_spec_is_in_the_repository_and_the_code_points_at_it():
    spec = ROOT / "docs" / "specs" / "shapes-world.md"
    assert spec.is_file() and "shapes" in spec.read_text(encoding="utf-8").lower()
    for path in [*ROOT.joinpath("vaestudio").rglob("*.py"), *ROOT.joinpath("studio").rglob("*.py")]:
        assert "/work/shared" not in path.read_text(encoding="utf-8"), f"{path} points outside the repository"
