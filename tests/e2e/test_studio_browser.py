"""The real studio in headless Chromium: drop an image, move a slider, generate from a prompt.

Screenshots land in artifacts/screenshots/ (real-*.png)."""

from __future__ import annotations

import pytest

from tests.studio import browser
from tests.studio.support import plain_image
from vaestudio.lessons import list_lessons

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture(scope="module")
def page(real_studio_url):
    with browser.studio_page(real_studio_url) as driver:
        yield driver


def test_prompt_to_gallery(page):
    assert browser.generate_images(page, "a red circle", seconds=300) >= 1
    browser.screenshot(page, "real-text-to-image")


def test_drop_an_image_and_move_a_slider(page, tmp_path):
    before = browser.upload_for_editing(page, plain_image(tmp_path / "drop.png", size=(120, 90)), seconds=300)
    browser.screenshot(page, "real-edit-encoded")
    assert browser.pixels_differ(browser.move_first_slider(page, before, seconds=120), before)
    browser.screenshot(page, "real-edit-slider-moved")


@pytest.mark.parametrize("tab", ["Explore", "Train", "Models"])
def test_tabs_render(page, tab):
    browser.open_tab(page, tab)
    assert browser.screenshot(page, f"real-{tab.lower()}").stat().st_size > 10_000


def test_explore_a_latent_scatter_by_clicking(page, real_engine):
    from selenium.webdriver.common.action_chains import ActionChains

    from studio.engine_api import Capability

    default_model = real_engine.list_models()[0]  # the Explore tab's picker starts on the first model
    if not default_model.can(Capability.SCATTER):
        pytest.fail(f"{default_model.name}, the first shipped model, should have a latent scatter")
    browser.open_tab(page, "Explore")
    if default_model.can(Capability.MANIFOLD):
        browser.click_button(page, "Draw the manifold")
        browser.wait_for_image(page, "manifold", 300)
    browser.click_button(page, "Encode and plot")
    plot = browser.wait_for_image(page, "scatter", 300)[0]
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
    ActionChains(page).move_to_element_with_offset(plot, -plot.size["width"] // 6, 0).click().perform()
    browser.wait_for_image(page, "decoded-point", 120)
    browser.screenshot(page, "real-explore-scatter")


LESSON_TITLES = [(lesson.name, f"{lesson.number}. {lesson.title}") for lesson in list_lessons()]


@pytest.mark.parametrize(("name", "title"), LESSON_TITLES, ids=[name for name, _ in LESSON_TITLES])
def test_every_lesson_shows_its_live_figure(page, name, title):
    from selenium.webdriver.common.by import By

    pixels = browser.open_lesson(page, title, seconds=300)
    assert pixels is not None and pixels.std() > 10
    assert title.split(". ", 1)[1] in page.find_element(By.ID, "lesson-paragraph").text
    browser.screenshot(page, f"real-learn-{name}")


def test_a_lessons_slider_re_renders_its_figure(page):
    from selenium.webdriver.common.by import By

    shown = browser.open_lesson(page, "6. Conditional VAE", seconds=300)
    moved = browser.move_lesson_control_to_end(page, shown, seconds=300)
    assert browser.pixels_differ(moved, shown)
    browser.wait_for(lambda: "at 99" in page.find_element(By.ID, "lesson-note").text, 60, "the note of the new value")
    browser.screenshot(page, "real-learn-cvae-slider-moved")
