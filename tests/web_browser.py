"""Headless Chromium for tests/test_web_ui.py: Debian's chromium and chromedriver driven by Selenium, with the
browser's console and network logs kept, and full-page screenshots. Nothing is downloaded at run time: the driver
is /usr/bin/chromedriver, given to Selenium as a Service, so Selenium Manager never looks for one."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALL = ("`make browser-tools` (as root: apt-get install -y chromium chromium-driver) and "
           "`pip install selenium` (the dev extra)")
SCREENSHOTS = Path(os.environ.get("MLEB_SCREENSHOTS") or
                   Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "screenshots")


def require_browser() -> None:
    """A missing browser is a failure that says how to install it, never a silent skip."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists() and not shutil.which(path.name)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        pytest.fail(f"the browser tests need {', '.join(missing)}: install them with {INSTALL}", pytrace=False)


class Browser:
    def __init__(self, base_url: str):
        require_browser()
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium"))
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        driver_path = CHROMEDRIVER if CHROMEDRIVER.exists() else shutil.which("chromedriver")
        self.driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
        self.base_url = base_url
        self.console: list[dict] = []  # every console entry so far
        self.requests: list[tuple[str, str]] = []  # (method, URL) of every request: documents, scripts, fetches

    def get(self, path: str):
        self.driver.get(self.base_url + path)
        self.collect()
        return self.driver

    def collect(self) -> None:
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                request = message["params"]["request"]
                self.requests.append((request["method"], request["url"]))

    def errors(self) -> list[str]:
        self.collect()
        return [entry["message"] for entry in self.console if entry["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        """The whole page (the window made as tall as the page), as SCREENSHOTS/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(1400, min(max(height + 140, 600), 5000))
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(1400, 1000)
        return path

    def quit(self) -> None:
        self.driver.quit()
