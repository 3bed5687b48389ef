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

        def leave_out_a_receipt(route: Route) -> None:
            # Every byte left is authentic; the history is not complete (lot_chain).
            bundle = json.loads(route.fetch().text())
            receipts = [i for i in bundle["entries"] if "lot.received" in i["entry"]]
            bundle["entries"].remove(receipts[-1])
            route.fulfill(status=200, content_type="application/json",
                          body=json.dumps(bundle))

        page.unroute("**/bundle.json")
        page.route("**/bundle.json", leave_out_a_receipt)
        page.goto(f"{live_server}/lots/K-0001?lang=en")
        box.locator("xpath=self::*[contains(@class, 'device-failed')]").wait_for(timeout=15000)
        browser.close()


def test_a_clerk_logs_a_harvest_prints_its_label_and_the_qr_opens_a_verified_page(
        world: object, app: object, live_server: str) -> None:
    """The whole path of a lot: the form, the label PDF, the QR a phone scans, the page."""
    import pypdfium2
    import zxingcpp
    from playwright.sync_api import sync_playwright

    from ledger.domain.note import NoteSigner
    from ledger.keystore import generate_private_key
    from tests.web.conftest import PASSWORD
    from tests.web.test_workspace import HARVEST

    app.config["PUBLIC_BASE_URL"] = live_server  # type: ignore[attr-defined]
    ledger = world.ledger  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844},
                                      extra_http_headers={"Accept-Language": "pt-BR"},
                                      accept_downloads=True)
        page = context.new_page()
        page.goto(f"{live_server}/workspace/login")
        page.screenshot(path=str(ARTIFACTS / "login-phone.png"))
        page.fill("#username", "member")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server}/workspace/record/harvest")
        for name, value in HARVEST.items():
            if name in ("product", "currency"):
                page.select_option(f"#f-{name}", value)
            elif value:
                page.fill(f"#f-{name}", value)
        page.fill("#f-shares", "hv-a:harvesters:85\nfund-a:community_fund:5")
        page.click("form.stack button[type=submit]")
        error = page.locator("#e-shares")
        assert "100%" in error.inner_text()
        page.screenshot(path=str(ARTIFACTS / "harvest-form-error-phone.png"), full_page=True)
        page.fill("#f-shares", HARVEST["shares"])
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{live_server}/workspace/")
        assert "BN-WEB-001" in page.content()
        page.screenshot(path=str(ARTIFACTS / "workspace-home-phone.png"), full_page=True)
        ledger.sign_checkpoint(NoteSigner(ledger.origin, generate_private_key()))

        page.goto(f"{live_server}/workspace/labels")
        page.check("input[value='BN-WEB-001']")
        with page.expect_download() as download_info:
            page.click("form.stack button[type=submit]")
        pdf_path = download_info.value.path()
        image = pypdfium2.PdfDocument(str(pdf_path))[0].render(scale=3).to_pil()
        urls = [result.text for result in zxingcpp.read_barcodes(image)]
        assert len(urls) == 1 and urls[0].startswith(live_server)

        phone = context.new_page()  # the buyer's phone, scanning the sack
        phone.goto(urls[0])
        assert phone.locator("#badge").inner_text().strip().startswith("✔")
        assert "Seringal Cachoeira" in phone.content()
        assert phone.locator("svg.bar").first.is_visible()
        phone.screenshot(path=str(ARTIFACTS / "scanned-label-phone.png"), full_page=True)
        browser.close()


def test_screenshots_of_the_console_and_the_receipts(world: object, live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import PASSWORD

    chain(world)  # type: ignore[arg-type]
    world.harvest("BN-0009")  # type: ignore[attr-defined]
    world.dispatch("BN-0009", "coop", by="assoc-cachoeira")  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for user, pages in (("coop", ("/workspace/receipts", "/workspace/indicators")),
                            ("auditor", ("/auditor/", "/auditor/checkpoints"))):
            context = browser.new_context(viewport={"width": 390, "height": 844},
                                          extra_http_headers={"Accept-Language": "es"})
            page = context.new_page()
            page.goto(f"{live_server}/workspace/login")
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("form.stack button[type=submit]")
            for path in pages:
                page.goto(live_server + path)
                assert page.locator("h1").is_visible()
                name = path.strip("/").replace("/", "-") + "-phone.png"
                page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            if user == "auditor":
                page.goto(f"{live_server}/auditor/")
                page.click("form.stack button[type=submit]")
                page.wait_for_selector(".badge-verified", timeout=20000)
                page.screenshot(path=str(ARTIFACTS / "auditor-run-phone.png"), full_page=True)
            context.close()
        browser.close()


def test_script_typed_into_every_free_text_field_never_runs_in_a_browser(
        world: object, app: object, live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.conftest import PASSWORD
    from tests.web.test_workspace import HARVEST, HOSTILE

    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(f"{live_server}/workspace/login")
        page.fill("#username", "member")
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.goto(f"{live_server}/workspace/record/harvest")
        for name, value in {**HARVEST, "community": HOSTILE, "territory": HOSTILE,
                            "plot": HOSTILE}.items():
            if name in ("product", "currency"):
                page.select_option(f"#f-{name}", value)
            elif value:
                page.fill(f"#f-{name}", value)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(f"{live_server}/workspace/")
        page.goto(f"{live_server}/workspace/record/adjust")
        page.select_option("#f-lot", "BN-WEB-001")
        page.fill("#f-loss", "1")
        page.select_option("#f-reason", "loss")
        page.fill("#f-note", HOSTILE)
        page.click("form.stack button[type=submit]")
        page.goto(f"{live_server}/workspace/record/split")
        page.select_option("#f-lot", "BN-WEB-001")
        page.fill("#f-children", HOSTILE)  # refused: the error echoes it back
        page.click("form.stack button[type=submit]")
        for path in ("/lots/BN-WEB-001", "/workspace/", "/dashboards/", "/lots/BN-WEB-001/steps"):
            page.goto(live_server + path)
            page.wait_for_load_state("load")
        page.goto(f"{live_server}/lots/BN-WEB-001")
        assert HOSTILE in page.inner_text("main")  # shown as text, exactly as typed
        assert page.locator("main img").count() == 0
        browser.close()
    assert dialogs == []


def test_a_lot_newer_than_the_checkpoint_waits_on_the_phone_then_verifies(
        world: object, app: object, live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    from web.checkpointing import start_checkpointer, stop_checkpointer

    signer = chain(world)  # type: ignore[arg-type]
    world.transfer("K-0001", "processor", "buyer")  # type: ignore[attr-defined]
    app.config.update(OPERATOR_VKEY=signer.verifier_key(),  # type: ignore[attr-defined]
                      CHECKPOINT_KEY=signer.private_key, CHECKPOINT_INTERVAL_S=1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844},
                                extra_http_headers={"Accept-Language": "pt-BR"})
        page.goto(f"{live_server}/lots/K-0001")
        badge, box = page.locator("#badge"), page.locator("#device-verification")
        assert "aguardando o próximo checkpoint" in badge.inner_text()
        box.locator("xpath=self::*[contains(@class, 'device-waiting')]").wait_for(timeout=15000)
        assert "Aguardando o próximo checkpoint assinado" in box.inner_text()
        page.screenshot(path=str(ARTIFACTS / "lot-waiting-phone.png"), full_page=True)
        start_checkpointer(app)  # type: ignore[arg-type]
        try:  # the page asks again after Retry-After (1 s) and verifies what it gets
            box.locator("xpath=self::*[contains(@class, 'device-verified')]").wait_for(
                timeout=15000)
        finally:
            stop_checkpointer(app)  # type: ignore[arg-type]
        assert badge.inner_text().strip().startswith("✔")
        assert page.locator("#badge-waiting-note").count() == 0
        page.screenshot(path=str(ARTIFACTS / "lot-waited-verified-phone.png"), full_page=True)
        browser.close()
