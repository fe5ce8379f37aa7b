"""The studio in headless Chromium, on the FakeEngine: generate, upload, move a slider, every tab.

Screenshots land in artifacts/screenshots/ (fake-*.png)."""

from __future__ import annotations

import time

import pytest

from studio.fake_engine import FakeEngine
from tests.studio import browser
from tests.studio.support import plain_image, running_studio

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    with running_studio(FakeEngine(step_delay=0.05)) as url, browser.studio_page(url) as driver:
        yield driver


def test_typing_a_prompt_and_generating_shows_a_gallery(page):
    assert browser.generate_images(page, "a red circle") == 4
    browser.screenshot(page, "fake-text-to-image")


def test_dropping_an_image_and_moving_a_slider_changes_the_edit(page, tmp_path):
    before = browser.upload_for_editing(page, plain_image(tmp_path / "drop.png", size=(120, 90)))
    browser.screenshot(page, "fake-edit-encoded")
    after = browser.move_first_slider(page, before)
    assert browser.pixels_differ(after, before)
    browser.screenshot(page, "fake-edit-slider-moved")


@pytest.mark.parametrize("tab", ["Explore", "Train", "Models"])
def test_every_tab_renders(page, tab):
    browser.open_tab(page, tab)
    path = browser.screenshot(page, f"fake-{tab.lower()}")
    assert path.stat().st_size > 10_000


def test_clicking_a_point_of_the_scatter_decodes_it(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.open_tab(page, "Explore")  # it opens on a model that draws a manifold (fake-digits-vae, a 2-D VAE)
    browser.click_button(page, "Encode and plot")
    plot = browser.wait_for_image(page, "scatter")[0]
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", plot)
    offset = (-plot.size["width"] // 6, -plot.size["height"] // 6)  # somewhere inside the plot area
    ActionChains(page).move_to_element_with_offset(plot, *offset).click().perform()
    browser.wait_for_image(page, "decoded-point")
    browser.click_button(page, "Draw the manifold")
    browser.wait_for_image(page, "manifold")
    assert "cannot do a 2-D manifold" not in page.find_element(By.TAG_NAME, "body").text
    browser.screenshot(page, "fake-explore-scatter")


def test_learn_picks_a_lesson_and_its_slider_re_renders_the_figure(page):
    from selenium.webdriver.common.by import By

    first = browser.open_lesson(page, "1. Bars")
    shown = browser.open_lesson(page, "2. A ratio")
    assert browser.pixels_differ(shown, first)
    assert "A ratio to read" in page.find_element(By.ID, "lesson-paragraph").text
    browser.screenshot(page, "fake-learn")
    moved = browser.move_lesson_control_to_end(page, shown)
    assert browser.pixels_differ(moved, shown)
    browser.wait_for(lambda: "at 64" in page.find_element(By.ID, "lesson-note").text, 30, "the note of the new value")
    browser.screenshot(page, "fake-learn-slider-moved")


def test_training_streams_loss_and_samples(page):
    from selenium.webdriver.common.by import By

    browser.open_tab(page, "Train")
    browser.click_button(page, "Start")
    status = page.find_element(By.ID, "training-status")
    browser.wait_for(lambda: "running" in status.text or "finished" in status.text, 60, "training progress")
    browser.wait_for_image(page, "training-samples")
    browser.wait_for(lambda: "finished" in status.text, 120, "the training run to finish")
    browser.screenshot(page, "fake-train-finished")


def test_interpolating_and_inpainting_a_painted_region(page, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.upload_for_editing(page, plain_image(tmp_path / "first.png", size=(64, 64), colour=(220, 40, 30)))
    browser.click_button(page, "Interpolate towards a second image")
    second = browser.wait_for(lambda: page.find_element(By.CSS_SELECTOR, "#edit-second input[type='file']"),
                              what="the second image's file input")
    second.send_keys(str(plain_image(tmp_path / "second.png", size=(64, 64), colour=(30, 60, 220))))
    browser.click_button(page, "Interpolate")
    browser.wait_for_image(page, "edit-strip")
    browser.click_button(page, "Inpaint a painted region")

    def candidates() -> int:
        return len(page.find_element(By.ID, "inpaint-candidates").find_elements(By.TAG_NAME, "img"))

    def refused() -> bool:
        return "Paint over the part" in page.find_element(By.TAG_NAME, "body").text

    # The painting canvas draws the encoded image some time after its section opens (seconds on a busy
    # machine); a stroke before that is lost and the studio rightly asks for a painted region. So paint,
    # and paint again after such a refusal (once its message is gone), at most three times.
    for attempt in range(3):
        time.sleep(3 * (attempt + 1))
        browser.wait_for(lambda: not refused(), 60, "the previous refusal's message to go")
        canvas = page.find_element(By.CSS_SELECTOR, "#inpaint-canvas canvas")
        page.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        stroke = ActionChains(page).move_to_element(canvas).click_and_hold()
        for _ in range(6):
            stroke = stroke.move_by_offset(10, 6)
        stroke.release().perform()
        browser.click_button(page, "Inpaint")
        outcome = browser.wait_for(lambda: "candidates" if candidates() >= 4 else ("refused" if refused() else None),
                                   60, "four inpainting candidates from the painted mask, or a refusal")
        if outcome == "candidates":
            break
        assert attempt < 2, "three painted strokes never reached the canvas"
    browser.screenshot(page, "fake-edit-interpolate-inpaint")
