"""The web page in a real headless Chromium (Debian's), driven by Playwright, against the running system."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.images import PHOTOS, image_bytes, save, scene
from tests.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHOTO = PHOTOS / "Dune.jpg"
# As the machines here need them: no sandbox as root, and no background traffic to hosts it cannot reach.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: `make test` installs it with apt-get")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def test_upload_see_tags_filter_tag_and_delete(stack: Stack, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    photo = tmp_path / "holiday photo.jpg"
    photo.write_bytes(PHOTO.read_bytes() if PHOTO.exists() else save(scene((1200, 800)), "JPEG"))
    (tmp_path / "notes.txt").write_text("not a photo")
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.url}/api/app")  # redirected to /api/app/
    expect(page).to_have_title("Image tagging")

    page.get_by_label("User").fill(f"web-{uuid.uuid4().hex[:8]}")
    page.get_by_label("User").dispatch_event("change")
    expect(page.locator("#status")).to_contain_text("0 images")

    page.set_input_files("#files", [str(photo), str(tmp_path / "notes.txt")])
    expect(page.locator("#uploads")).to_contain_text("not an image")
    card = page.locator(".card").first
    expect(card.get_by_role("button", name="format:jpeg", exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator("#uploads")).to_contain_text("tagged", timeout=30_000)
    expect(card.locator("img")).to_have_attribute("src", re.compile("^blob:"))

    card.get_by_role("button", name="orientation:landscape", exact=True).click()
    expect(page.locator("#status")).to_contain_text("1 image tagged orientation:landscape")
    expect(page.get_by_label("Search tags")).to_have_value("orientation:landscape")

    card = page.locator(".card").first
    card.get_by_placeholder("add a tag").fill("Summer")
    card.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".card").first.get_by_role("button", name="summer", exact=True)).to_be_visible()

    page.get_by_label("Search tags").fill("summer")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#status")).to_contain_text("1 image tagged summer")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)

    page.locator(".card").first.get_by_role("button", name=re.compile("^Delete image")).click()
    expect(page.locator(".card")).to_have_count(0)
    expect(page.locator("#status")).to_contain_text("0 images")
    assert errors == []


def test_the_page_is_keyboard_usable_and_refuses_oversized_files(stack: Stack, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    big = tmp_path / "huge.png"
    big.write_bytes(image_bytes("PNG", (10, 10)) + b"\0" * (21 * 1024 * 1024))
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
    page.goto(f"{stack.url}/api/app/")
    page.wait_for_load_state("networkidle")
    for _ in range(10):  # the drop zone is reachable with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "drop":
            break
    assert page.evaluate("document.activeElement.id") == "drop"
    # Enter opens the file picker: seen as the click on the file input (headless dialogs are not dependable).
    page.evaluate("window.picked = 0; document.getElementById('files').addEventListener('click', e => { "
                  "window.picked += 1; e.preventDefault(); })")  # fmt: skip
    page.keyboard.press("Enter")
    page.keyboard.press("Space")
    assert page.evaluate("window.picked") == 2
    page.set_input_files("#files", str(big))
    expect(page.locator("#uploads")).to_contain_text("too large")


def test_the_page_is_served_with_a_strict_policy(stack: Stack) -> None:
    import httpx

    response = httpx.get(f"{stack.url}/api/app/")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{stack.url}/api/app/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{stack.url}/api/app/../host.json").status_code == 404
    assert httpx.get(f"{stack.url}/api/app/secret.txt").status_code == 404
