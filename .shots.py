import os, time
os.environ["GRADIO_ANALYTICS_ENABLED"]="False"
from studio.fake_engine import FakeEngine
from tests.studio.support import running_studio
from tests.studio import browser
with running_studio(FakeEngine()) as url:
    d = browser.chromium()
    try:
        browser.open_studio(d, url)
        for tab in ["Text to image", "Edit", "Explore", "Train", "Models"]:
            browser.open_tab(d, tab)
            time.sleep(1)
            print(browser.screenshot(d, "draft-" + tab.replace(" ", "-").lower()))
    finally:
        browser.close(d)
