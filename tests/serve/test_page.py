"""The page in a real browser: Debian's Chromium, headless, driven by Selenium through the
system chromedriver (explicit paths: Selenium Manager never runs, nothing is downloaded).

A video chosen in the page's file input is played from the local file and scored by the
server; the page shows the API's answer. `MRSTNET_SCREENSHOT=PATH` also writes the page's
picture there (docs/serve_page.png, the one in the README, is made so).

Without the browser (/usr/bin/chromium, /usr/bin/chromedriver), selenium or the serve
extra these tests are skipped, saying what to install, unless MRSTNET_REQUIRE_BROWSER=1
(CI sets it): then they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from .conftest import MISSING

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
REQUIRED = os.environ.get("MRSTNET_REQUIRE_BROWSER") == "1"


def unavailable() -> str | None:
    """What these tests lack, with how to install it; None when nothing."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return (
            f"no system browser at {CHROMIUM} and {CHROMEDRIVER}: "
            "apt-get install chromium chromium-driver"
        )
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed: pip install -e '.[dev]'"
    if MISSING:
        return f"the 'serve' extra is not installed ({', '.join(MISSING)}): pip install -e '.[dev]'"
    return None


LACKING = unavailable()
pytestmark = pytest.mark.skipif(bool(LACKING) and not REQUIRED, reason=str(LACKING))
WAIT_S = 90


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if LACKING:  # only with MRSTNET_REQUIRE_BROWSER=1 (else the module is skipped)
        pytest.fail(f"MRSTNET_REQUIRE_BROWSER=1, but {LACKING}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,1040", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):  # fmt: skip
        options.add_argument(arg)
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def wait_for(driver, what, seconds=WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: what(d))


def choose(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.execute_script("document.body.dataset.done = ''")
    driver.find_element(By.ID, "file").send_keys(str(path))


def test_the_page_shows_what_the_api_says(browser, server, videos, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server.url)
    wait_for(browser, lambda d: "MoveLeft" in d.find_element(By.ID, "model").text)
    assert "4 classes" in browser.find_element(By.ID, "model").text
    choose(browser, videos["page"])
    wait_for(browser, lambda d: d.execute_script("return document.body.dataset.done") == "1")
    api = server.post_video(videos["page"], content_type="video/webm",
                            query="?top=5&timeline=true").json()  # fmt: skip
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-class") == api["top"][0]["class"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#top li")
    assert [r.get_attribute("data-class") for r in rows] == [t["class"] for t in api["top"]]
    assert rows[0].find_element(By.CLASS_NAME, "pct").text == f"{100 * api['top'][0]['prob']:.1f} %"
    # the timeline: one coloured bar per segment, in order
    segments = browser.find_elements(By.CSS_SELECTOR, "#track .segment")
    names = [s["class"] or "uncertain" for s in api["timeline"]["segments"]]
    assert [s.get_attribute("data-class") for s in segments] == names and len(names) >= 3
    # the video plays from the local file, not from the server
    player = browser.find_element(By.ID, "player")
    assert player.get_attribute("src").startswith("blob:")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].readyState", player) >= 1)
    duration = browser.execute_script("return arguments[0].duration", player)
    assert duration == pytest.approx(api["duration"], abs=0.1)
    assert not browser.find_element(By.ID, "error").is_displayed()
    browser.execute_script("arguments[0].currentTime = 2.5", player)  # the cursor, mid-way
    wait_for(browser, lambda d: d.execute_script("return arguments[0].currentTime", player) > 2)
    shot = tmp_path / "serve_page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("MRSTNET_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["MRSTNET_SCREENSHOT"])
    assert server.wait_no_temp_files() == []


def test_the_page_says_what_is_wrong_in_plain_words(browser, server, videos):
    from selenium.webdriver.common.by import By

    browser.get(server.url)
    wait_for(browser, lambda d: "MoveLeft" in d.find_element(By.ID, "model").text)
    error = browser.find_element(By.ID, "error")
    choose(browser, videos["random_bytes"])
    wait_for(browser, lambda d: error.is_displayed())
    assert "random_bytes.mp4" in error.text and "not a video this server can read" in error.text
    choose(browser, videos["audio_only"])
    wait_for(browser, lambda d: "no video stream" in error.text)
    assert not browser.find_element(By.ID, "verdict").text
