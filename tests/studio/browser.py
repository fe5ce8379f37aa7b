"""Headless Chromium for the browser tests: start it, find things in the studio, take screenshots."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
INSTALL_HINT = (
    "headless Chromium and chromedriver are needed for the browser tests. `make test` installs them "
    "(its .make/browser step runs: apt-get install -y chromium chromium-driver fonts-noto-color-emoji)."
)
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000", "--hide-scrollbars",
]


def chromium():
    """A headless Chromium driven by selenium; fails (never skips) with the installer's name if missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        pytest.fail(f"Chromium not found: {INSTALL_HINT}", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="studio-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.profile_folder = profile
    return driver


def close(driver) -> None:
    driver.quit()
    shutil.rmtree(driver.profile_folder, ignore_errors=True)


@contextlib.contextmanager
def studio_page(url: str) -> Iterator:
    """A headless Chromium with the studio at `url` open and its tabs drawn; closed on exit."""
    driver = chromium()
    try:
        open_studio(driver, url)
        yield driver
    finally:
        close(driver)


def wait_for(condition, seconds: float = 30, what: str = "the page"):
    """Polls `condition()` until it returns something truthy; fails with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - elements come and go while Gradio renders
            last_error = error
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds}s waiting for {what} ({last_error})", pytrace=False)


def open_studio(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "button[role='tab']"), 60, "the studio's tabs")


def open_tab(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    tab = wait_for(lambda: next(button for button in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']")
                                if button.text.strip() == title), what=f"the {title} tab")
    tab.click()
    time.sleep(0.5)


def screenshot(driver, name: str, full_page: bool = True) -> Path:
    """Saves artifacts/screenshots/NAME.png (the whole page by default) and returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if full_page:
        height = driver.execute_script(
            "return Math.max(...Array.from(document.querySelectorAll('html, body, gradio-app, .gradio-container,"
            " .main, .wrap, .contain')).map(element => element.scrollHeight))")
        driver.set_window_size(1400, min(max(1000, height + 40), 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path


def shown_pixels(element):
    """The pixels of the image an element shows (fetched from its <img> src), or None if none yet."""
    import io
    import urllib.request

    import numpy as np
    from PIL import Image
    from selenium.webdriver.common.by import By

    images = element.find_elements(By.TAG_NAME, "img")
    source = images[0].get_attribute("src") if images else None
    if not source or not source.startswith("http"):
        return None
    with urllib.request.urlopen(source, timeout=30) as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"), dtype=np.float32)


def pixels_differ(first, second, threshold: float = 1.0) -> bool:
    """Whether two shown images differ by more than `threshold` grey levels on average."""
    if first is None or second is None:
        return False
    return first.shape != second.shape or float(abs(first - second).mean()) > threshold


# --------------------------------------------------------------------------- what a user does


def generate_images(driver, prompt: str, seconds: float = 120) -> int:
    """Types a prompt on the Text to image tab, presses Generate; returns how many images appeared."""
    from selenium.webdriver.common.by import By

    open_tab(driver, "Text to image")
    box = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#prompt textarea"), what="the prompt box")
    box.clear()
    box.send_keys(prompt)
    driver.find_element(By.ID, "generate").click()
    gallery = driver.find_element(By.ID, "text-to-image-gallery")

    def finished_images():  # rows are captioned "sampling…" until the last one is in
        images = gallery.find_elements(By.TAG_NAME, "img")
        return len(images) if images and "sampling" not in gallery.text else 0

    return wait_for(finished_images, seconds, "a finished gallery")


def upload_for_editing(driver, image_path: Path, seconds: float = 120):
    """Drops a file on the Edit tab's upload (its file input); returns the edited image's pixels."""
    from selenium.webdriver.common.by import By

    open_tab(driver, "Edit")
    file_input = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#edit-source input[type='file']"),
                          what="the Edit tab's file input")
    file_input.send_keys(str(image_path))
    output = driver.find_element(By.ID, "edit-output")
    wait_for(lambda: output.find_elements(By.TAG_NAME, "img"), seconds, "the encoded image")
    wait_for(lambda: _visible_sliders(driver), seconds, "the latent sliders")
    time.sleep(1.5)  # the sliders' own first re-render settles
    wait_for(lambda: shown_pixels(output) is not None, seconds, "the edited image's pixels")
    return shown_pixels(output)


def move_first_slider(driver, before, seconds: float = 60):
    """Drags the first latent slider to its end (keyboard End); returns the changed output's pixels."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    slider = _visible_sliders(driver)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    slider.click()
    slider.send_keys(Keys.END)
    output = driver.find_element(By.ID, "edit-output")
    return wait_for_new_pixels(output, before, seconds, "the edited image's pixels to change after moving a slider")


def wait_for_new_pixels(element, before, seconds: float, what: str):
    """Waits until the image `element` shows differs from `before`; returns its new pixels."""
    latest = {}

    def changed() -> bool:
        latest["pixels"] = shown_pixels(element)
        return pixels_differ(latest["pixels"], before)

    wait_for(changed, seconds, what)
    return latest["pixels"]


def _visible_sliders(driver):
    from selenium.webdriver.common.by import By

    return [slider for slider in driver.find_elements(By.CSS_SELECTOR, "#latent-sliders input[type='range']")
            if slider.is_displayed()]


def click_button(driver, text: str):
    from selenium.webdriver.common.by import By

    def labelled(button) -> bool:  # an accordion's header carries an arrow after its label
        lines = button.text.strip().splitlines()
        return bool(lines) and lines[0].strip() == text and button.is_displayed()

    button = wait_for(lambda: next(b for b in driver.find_elements(By.TAG_NAME, "button") if labelled(b)),
                      what=f"the {text!r} button")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    return button


def wait_for_image(driver, element_id: str, seconds: float = 60):
    from selenium.webdriver.common.by import By

    return wait_for(lambda: driver.find_element(By.ID, element_id).find_elements(By.TAG_NAME, "img"), seconds,
                    f"an image in #{element_id}")


def open_lesson(driver, title: str, seconds: float = 120):
    """Picks the Learn tab's lesson whose title starts with `title`; returns the figure's pixels once shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_tab(driver, "Learn")
    figure = driver.find_element(By.ID, "lesson-figure")
    wait_for(lambda: shown_pixels(figure) is not None, seconds, "the first lesson's figure")
    before = shown_pixels(figure)
    picker = driver.find_element(By.CSS_SELECTOR, "#lesson-picker input")
    if not picker.get_attribute("value").startswith(title):
        picker.click()
        option = wait_for(lambda: next(item for item in driver.find_elements(By.CSS_SELECTOR,
                                                                             "li[data-testid='dropdown-option']")
                                       if (item.get_attribute("aria-label") or "").startswith(title)),
                          what=f"the lesson {title!r} in the list")
        option.click()
        picker.send_keys(Keys.ESCAPE)
        return wait_for_new_pixels(figure, before, seconds, f"the figure of {title!r}")
    return before


def move_lesson_control_to_end(driver, before, seconds: float = 120):
    """Drags the lesson's slider to its right end with the mouse and lets go (the figure re-renders on release);
    returns the re-rendered figure's pixels."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    slider = driver.find_element(By.CSS_SELECTOR, "#lesson-control input[type='range']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    ActionChains(driver).move_to_element(slider).click_and_hold().move_by_offset(slider.size["width"] // 2 + 20, 0) \
        .release().perform()
    figure = driver.find_element(By.ID, "lesson-figure")
    return wait_for_new_pixels(figure, before, seconds, "the lesson's figure to change after moving its slider")
