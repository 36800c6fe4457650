"""Helpers of the dashboard's headless-Chromium tests: clicking through redraws, reading
texts in one go, the notice, whole-page screenshots."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def confirm_click(wait: WebDriverWait, css: str) -> None:
    """Click a two-step (delete) button until its second click, "Sure?", went through."""

    def step(driver) -> bool:
        button = driver.find_element(By.CSS_SELECTOR, css)
        sure = button.text == "Sure?"
        button.click()
        return sure

    wait.until(step)


def click(wait: WebDriverWait, css: str) -> None:
    """Click the element, found again if a list was redrawn under the click."""
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def screenshot(driver, path: Path) -> None:
    """The whole page (the viewport made as tall as the content first)."""
    height = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]["height"]
    metrics = {"width": 1400, "height": int(height), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    assert driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def texts(driver, css: str) -> list[str]:
    """The shown text of each element matching `css`, read in one go (a list redrawn meanwhile
    cannot leave a stale element behind)."""
    script = "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)"
    return driver.execute_script(script, css)


def notice(driver) -> str:
    box = driver.find_element(By.ID, "notice")
    return box.text if box.is_displayed() else ""
