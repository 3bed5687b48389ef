"""Real-browser checks with Debian's Chromium driven by Playwright (phone-sized viewport).

Screenshots are kept under artifacts/screenshots for people to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.web.test_public import chain

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists() and os.environ.get("CI") != "true",
                       reason="Debian's chromium is not installed (CI installs it)"),
]


@pytest.fixture(params=["sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:  # browsers: SQLite only
    return f"sqlite:///{tmp_path / 'browser.sqlite'}"


def test_a_phone_shows_the_chain_the_split_and_a_passing_badge(world: object,
                                                                live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    chain(world)  # type: ignore[arg-type]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844},
                                extra_http_headers={"Accept-Language": "pt-BR"})
        page.goto(f"{live_server}/lots/K-0001")
        assert page.locator("#badge").inner_text().strip().startswith("✔")
        assert page.locator("svg.flow").is_visible()
        assert page.locator("svg.bar").first.is_visible()
        assert "Coletores" in page.content()
        page.screenshot(path=str(ARTIFACTS / "lot-phone.png"), full_page=True)
        page.goto(f"{live_server}/lots/NOPE")
        assert "Lote não encontrado" in page.content()
        page.screenshot(path=str(ARTIFACTS / "not-found-phone.png"))
        browser.close()


def test_the_page_verifies_the_bundle_on_this_device_and_catches_tampering(
        world: object, app: object, live_server: str) -> None:
    import json

    from playwright.sync_api import Route, sync_playwright

    signer = chain(world)  # type: ignore[arg-type]
    app.config["OPERATOR_VKEY"] = signer.verifier_key()  # type: ignore[attr-defined]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(f"{live_server}/lots/K-0001?lang=en")
        box = page.locator("#device-verification")
        box.locator("xpath=self::*[contains(@class, 'device-verified')]").wait_for(
            timeout=15000)
        assert box.inner_text().startswith("Verified on this device")
        page.screenshot(path=str(ARTIFACTS / "device-verified-phone.png"), full_page=True)

        def tamper(route: Route) -> None:
            bundle = json.loads(route.fetch().text())
            harvest = next(i for i in bundle["entries"] if "lot.harvested" in i["entry"])
            harvest["entry"] = harvest["entry"].replace('"1000"', '"1001"', 1)
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps(bundle))

        page.route("**/bundle.json", tamper)
        page.goto(f"{live_server}/lots/K-0001?lang=en")
        box.locator("xpath=self::*[contains(@class, 'device-failed')]").wait_for(timeout=15000)
        assert "could NOT verify" in box.inner_text()
        browser.close()
