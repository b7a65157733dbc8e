"""The web page in a real headless Chromium (Debian's), driven by Playwright, against the running system."""

from __future__ import annotations

import base64
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.images import PHOTOS, image_bytes, save, scene
from tests.stack import MAX_UPLOAD_BYTES, Stack, running_stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHOTO = PHOTOS / "Dune.jpg"
# As the machines here need them: no sandbox as root, and no background traffic to hosts it cannot reach.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip
# As app.js has them.
POLL_MS = 1500
RELIST_MS = 20_000
SIGN_IN = "/.auth/login/aad?post_login_redirect_uri=/api/app/"
SIGN_OUT = "/.auth/logout?post_logout_redirect_uri=/api/app/"
# The gallery's listings, whatever their query.
LISTING = re.compile(r"/api/images\?")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: `make test` installs it with apt-get")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def user() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def open_page(browser: Any, *, phone: bool = False, user: str | None = None) -> tuple[Any, list[str]]:
    """A fresh page (its own storage), and the list its uncaught errors are collected in."""
    viewport = {"width": 390, "height": 844} if phone else {"width": 1100, "height": 900}
    context = browser.new_context(viewport=viewport)
    if user is not None:  # as if typed on an earlier visit
        context.add_init_script(f"localStorage.setItem('tagging.user', {user!r})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def drop_files(page: Any, target: str, files: list[tuple[str, bytes, str]]) -> None:
    """Drag files over `target` and drop them, as the browser does: events carrying a DataTransfer of Files."""
    from playwright.sync_api import expect

    transfer = page.evaluate_handle(
        """files => {
             const transfer = new DataTransfer();
             for (const [name, data, type] of files) {
               const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
               transfer.items.add(new File([bytes], name, { type }));
             }
             return transfer;
           }""",
        [[name, base64.b64encode(data).decode(), kind] for name, data, kind in files],
    )
    zone = page.locator(target)
    zone.dispatch_event("dragover", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"\bover\b"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).not_to_have_class(re.compile(r"\bover\b"))


def photo_bytes() -> bytes:
    return PHOTO.read_bytes() if PHOTO.exists() else save(scene((1200, 800)), "JPEG")


def uploaded(stack: Stack, user: str, data: bytes) -> str:
    """An image uploaded and tagged elsewhere (not through the page), by its id."""
    response = stack.upload(data, user)
    assert response.status_code == 202, response.text
    image_id: str = response.json()["id"]
    assert stack.settled(image_id, user)["status"] == "done"
    return image_id


def test_dropped_photos_are_uploaded_tagged_filtered_edited_and_deleted_after_confirming(
    stack: Stack, browser: Any, tmp_path: Path, user: str
) -> None:
    from playwright.sync_api import expect

    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "huge.png").write_bytes(image_bytes("PNG", (10, 10)) + b"\0" * (MAX_UPLOAD_BYTES + 1))
    page, errors = open_page(browser)
    page.goto(f"{stack.url}/api/app")  # redirected to /api/app/
    expect(page).to_have_title("Image tagging")

    page.get_by_label("User").fill(user)
    page.get_by_label("User").dispatch_event("change")
    expect(page.locator("#status")).to_contain_text("0 images")

    drop_files(page, "#drop", [("holiday photo.jpg", photo_bytes(), "image/jpeg")])
    card = page.locator(".card").first
    expect(page.locator("#uploads li", has_text="holiday photo.jpg")).to_contain_text("tagged", timeout=30_000)
    expect(card.locator(".name")).to_have_text("holiday photo.jpg")
    expect(card.locator("img")).to_have_attribute("src", re.compile("^blob:"))
    # Tags on nearly every image stay off the card, for the full view.
    expect(card.get_by_role("button", name="format:jpeg", exact=True)).to_have_count(0)

    # Refused here (not an image) and by the app (its size limit, which it states: the page knows no number).
    page.set_input_files("#files", [str(tmp_path / "notes.txt"), str(tmp_path / "huge.png")])
    expect(page.locator("#uploads li", has_text="notes.txt")).to_contain_text("Failed: not an image")
    expect(page.locator("#uploads li", has_text="huge.png")).to_contain_text(
        f"the limit is {MAX_UPLOAD_BYTES:,} bytes", timeout=30_000
    )
    # A refused upload looks failed, whatever its bar says; a tagged one does not.
    expect(page.locator("#uploads li", has_text="huge.png")).to_have_class(re.compile(r"\bfailed\b"))
    expect(page.locator("#uploads li", has_text="holiday photo.jpg")).not_to_have_class(re.compile(r"\bfailed\b"))

    # Every tag can be found without guessing: the tag browser lists them by kind, with counts.
    page.get_by_text("Browse tags").click()
    technical = page.locator("#tag-groups section", has_text="Technical")
    technical.get_by_role("button", name="orientation:landscape, 1 image").click()
    expect(page.locator("#status")).to_contain_text("1 image tagged orientation:landscape")
    expect(page.get_by_label("Search tags")).to_have_value("orientation:landscape")

    card.get_by_placeholder("add a tag").fill("Summer")
    card.get_by_role("button", name="Add", exact=True).click()
    expect(card.get_by_role("button", name="summer", exact=True)).to_be_visible()
    expect(card.get_by_placeholder("add a tag")).to_have_value("")

    page.get_by_label("Search tags").fill("summer")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#status")).to_contain_text("1 image tagged summer")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)

    image_id = card.get_attribute("data-id")
    assert image_id
    deletes: list[str] = []
    page.on("request", lambda request: deletes.append(request.url) if request.method == "DELETE" else None)
    questions: list[str] = []

    def answer(accept: bool) -> Any:
        def handle(dialog: Any) -> None:
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        return handle

    page.once("dialog", answer(accept=False))
    card.get_by_role("button", name=f"Delete image {image_id}").click()
    assert questions == ["Delete this image? This cannot be undone."]
    expect(page.locator(".card")).to_have_count(1)

    page.once("dialog", answer(accept=True))
    card.get_by_role("button", name=f"Delete image {image_id}").click()
    expect(page.locator(".card")).to_have_count(0)
    # The page handles one click before the next: a DELETE sent after the refusal would be counted by now.
    assert len(deletes) == 1
    expect(page.locator("#status")).to_contain_text("0 images")
    assert len(questions) == 2
    assert stack.get(image_id, user).status_code == 404
    assert errors == []


def test_refreshes_update_cards_in_place_keeping_typed_text_focus_and_loaded_pages(
    stack: Stack, browser: Any, user: str
) -> None:
    from playwright.sync_api import expect

    older = [uploaded(stack, user, image_bytes("JPEG", (64 + n, 48), (40 * n, 90, 200))) for n in range(3)]
    page, errors = open_page(browser, user=user)
    page.clock.install()
    # Pages of 2 instead of 60, so that three images need "Load more".
    page.route(LISTING, lambda route: route.continue_(url=route.request.url.replace("limit=60", "limit=2")))
    page.goto(f"{stack.url}/api/app/")
    cards = page.locator(".card")
    expect(cards).to_have_count(2)
    page.get_by_role("button", name="Load more").click()
    expect(cards).to_have_count(3)
    assert [cards.nth(n).get_attribute("data-id") for n in range(3)] == older[::-1]  # newest first

    page.evaluate("document.querySelectorAll('.card').forEach((card) => { card.known = true; })")
    oldest = page.locator(f'.card[data-id="{older[0]}"]')  # on the page "Load more" added
    draft = oldest.get_by_placeholder("add a tag")
    draft.click()
    draft.press_sequentially("half-typ")
    page.evaluate("window.draft = document.activeElement")

    # An image uploaded elsewhere turns up at the next periodic listing: it takes nothing else away.
    newest = uploaded(stack, user, image_bytes("JPEG", (80, 60), (10, 200, 30)))
    page.clock.run_for(RELIST_MS)
    expect(cards).to_have_count(4)
    assert cards.first.get_attribute("data-id") == newest
    assert page.evaluate("[...document.querySelectorAll('.card')].filter((card) => card.known).length") == 3
    expect(draft).to_have_value("half-typ")
    assert page.evaluate("document.activeElement === window.draft")

    # So does a refresh on a change of function key (the user is the same), and one for a tag added elsewhere.
    assert stack.call("PUT", f"/api/images/{older[0]}/tags/elsewhere", user).status_code == 200
    with page.expect_response(lambda response: "continuation=" in response.url):  # the last page listed again
        page.locator("#key").evaluate("key => { key.value = 'a-key'; key.dispatchEvent(new Event('change')); }")
    expect(oldest.get_by_role("button", name="elsewhere", exact=True)).to_be_visible()
    expect(cards).to_have_count(4)
    assert page.evaluate("[...document.querySelectorAll('.card')].filter((card) => card.known).length") == 3
    expect(draft).to_have_value("half-typ")
    assert page.evaluate("document.activeElement === window.draft")
    assert errors == []


def test_an_upload_deleted_before_it_is_tagged_is_no_longer_polled(
    stack: Stack, browser: Any, tmp_path: Path, user: str
) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "gone.jpg"
    photo.write_bytes(image_bytes("JPEG", (70, 50), (150, 20, 90)))
    page, errors = open_page(browser, user=user)
    page.clock.install()
    page.clock.pause_at("2030-01-01T00:00:00Z")  # nothing is polled until the test says so
    page.goto(f"{stack.url}/api/app/")
    row = page.locator("#uploads li", has_text="gone.jpg")
    page.set_input_files("#files", str(photo))
    expect(row).to_have_attribute("data-id", re.compile(r"\w+"))
    image_id = row.get_attribute("data-id")
    polls: list[str] = []

    def deleted_meanwhile(route: Any) -> None:  # as far as this page can tell: the app answers 404
        polls.append(route.request.url)
        route.fulfill(status=404, json={"error": {"code": "not_found", "message": "No such image."}})

    page.route(f"**/api/images/{image_id}", deleted_meanwhile)
    page.clock.run_for(POLL_MS)
    expect(row).to_contain_text("deleted before it was tagged")
    assert len(polls) == 1
    page.clock.run_for(10 * POLL_MS)
    # A request the page makes after those ten rounds: were a poll sent in them, it would have reached the route
    # first, since the page issues its requests in order.
    assert page.evaluate("async () => (await fetch('/api/images?limit=1')).status") in (200, 401)
    assert len(polls) == 1
    assert errors == []


@pytest.mark.parametrize("answer", ["signed in", "not signed in", "no authentication", "unreachable"])
def test_the_page_follows_app_service_authentication(stack: Stack, browser: Any, answer: str) -> None:
    from playwright.sync_api import expect

    page, errors = open_page(browser, user="typed-earlier")
    replies: dict[str, Any] = {
        "signed in": lambda route: route.fulfill(json=[{"user_id": "alice@example.com", "provider_name": "aad"}]),
        "not signed in": lambda route: route.fulfill(status=401),
        "no authentication": lambda route: route.fulfill(status=404),
        "unreachable": lambda route: route.abort(),
    }
    page.route("**/.auth/me", replies[answer])
    listed: list[dict[str, str]] = []
    page.on("request", lambda request: listed.append(request.headers) if LISTING.search(request.url) else None)
    page.goto(f"{stack.url}/api/app/")
    sign_in = page.get_by_role("link", name="Sign in")
    sign_out = page.get_by_role("link", name="Sign out")
    user_field = page.get_by_label("User")
    status = page.locator("#status")

    if answer == "signed in":
        expect(page.locator("header")).to_contain_text("Signed in as alice@example.com")
        expect(sign_out).to_have_attribute("href", SIGN_OUT)
        expect(sign_in).to_be_hidden()
        expect(user_field).to_be_hidden()
        expect(status).not_to_be_empty()  # listed: App Service, not the page, says who the caller is
        assert listed
        assert all("x-ms-client-principal-id" not in sent for sent in listed)
    elif answer == "not signed in":
        expect(sign_in).to_have_attribute("href", SIGN_IN)
        expect(sign_out).to_be_hidden()
        expect(user_field).to_be_hidden()
        expect(status).to_have_text("Sign in to see your images.")
        assert listed == []
    else:
        expect(status).to_have_text("0 images")  # the typed user's images
        expect(user_field).to_be_visible()
        expect(user_field).to_have_value("typed-earlier")
        expect(sign_in).to_be_hidden()
        expect(sign_out).to_be_hidden()
        assert [sent.get("x-ms-client-principal-id") for sent in listed] == ["typed-earlier"]
    assert errors == []


def test_the_page_works_with_a_keyboard_and_on_a_phone(stack: Stack, browser: Any, user: str) -> None:
    from playwright.sync_api import expect

    uploaded(stack, user, image_bytes("JPEG", (90, 60), (220, 180, 20)))
    page, errors = open_page(browser, phone=True)
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

    # The user name is remembered; the function key, a secret, only for this tab's session.
    page.get_by_label("User").fill(user)
    page.get_by_label("User").dispatch_event("change")
    page.get_by_label("Function key").fill("secret-key")
    page.get_by_label("Function key").dispatch_event("change")
    assert page.evaluate("localStorage.getItem('tagging.key')") is None
    assert page.evaluate("sessionStorage.getItem('tagging.key')") == "secret-key"
    page.evaluate("localStorage.setItem('tagging.key', 'kept-by-an-older-page')")
    page.reload()
    expect(page.get_by_label("User")).to_have_value(user)
    expect(page.get_by_label("Function key")).to_have_value("secret-key")
    assert page.evaluate("localStorage.getItem('tagging.key')") is None

    # Tags and their remove buttons are big enough for a finger.
    remove = page.locator(".card .tag .remove").first
    expect(remove).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-phone.png"), full_page=True)
    for target in (remove, page.locator(".card .tag button").first):
        box = target.bounding_box()
        assert box is not None
        assert box["width"] >= 32, box
        assert box["height"] >= 32, box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-phone.png"), full_page=True)

    # Removing a tag with the keyboard leaves the focus in that card, on its "add a tag" field.
    name = remove.get_attribute("aria-label")
    remove.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=name)).to_have_count(0)
    assert page.evaluate("document.activeElement.placeholder") == "add a tag"
    assert errors == []


def test_the_page_is_served_with_a_strict_policy(stack: Stack) -> None:
    import httpx

    response = httpx.get(f"{stack.url}/api/app/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    # Images from the page itself, its blob: thumbnails, and the storage origin of download links: no other host.
    blob = urlsplit(stack.account.blobs.url)
    assert f"img-src 'self' blob: {blob.scheme}://{blob.netloc};" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{stack.url}/api/app/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{stack.url}/api/app/../host.json").status_code == 404
    assert httpx.get(f"{stack.url}/api/app/secret.txt").status_code == 404


def test_a_deployment_that_trusts_no_caller_says_so_instead_of_asking_for_a_name(
    azurite: Any, repo_root: Any, tmp_path: Any, browser: Any
) -> None:
    """In Azure with sign-in off (WEBSITE_SITE_NAME set, no WEBSITE_AUTH_ENABLED) there is no /.auth, and the app
    accepts no caller: the page hides the name field, which could only be refused."""
    from playwright.sync_api import expect

    with running_stack(
        azurite.connection_string, repo_root, tmp_path / "runner.log", env={"WEBSITE_SITE_NAME": "x"}
    ) as closed:
        page, errors = open_page(browser, user="typed-earlier")
        listed: list[str] = []
        page.on("request", lambda request: listed.append(request.url) if LISTING.search(request.url) else None)
        page.goto(f"{closed.url}/api/app/")

        expect(page.locator("#closed")).to_be_visible()
        expect(page.get_by_label("User")).to_be_hidden()
        expect(page.locator("#status")).to_have_text("This deployment accepts no one until its owner turns sign-in on.")
        assert listed == []
        assert errors == []


def named_upload(stack: Stack, user: str, data: bytes, filename: str) -> str:
    response = stack.upload(data, user, **{"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})
    assert response.status_code == 202, response.text
    image_id: str = response.json()["id"]
    assert stack.settled(image_id, user)["status"] == "done"
    return image_id


def test_a_photo_is_found_by_name_opened_full_size_with_its_facts_and_closed_again(
    stack: Stack, browser: Any, user: str
) -> None:
    from playwright.sync_api import expect

    image_id = named_upload(stack, user, photo_bytes(), "beach.jpg")
    page, errors = open_page(browser, user=user)
    page.goto(f"{stack.url}/api/app/")
    card = page.locator(f'.card[data-id="{image_id}"]')
    expect(card.locator(".name")).to_have_text("beach.jpg")
    opener = card.get_by_role("button", name="Open beach.jpg")
    opener.click()

    viewer = page.get_by_role("dialog", name="beach.jpg")
    expect(viewer).to_be_visible()
    # Full size, from the short-lived link, which the page's policy lets an <img> load from the storage origin.
    full = viewer.locator("#viewer-image")
    expect(full).to_have_attribute("src", re.compile(r"^http://127\.0\.0\.1:\d+/devstoreaccount1/images/"))
    # Loaded whole: the page's policy forbids the eval that wait_for_function would need.
    expect(full).to_have_js_property("naturalWidth", stack.get(image_id, user).json()["width"])
    facts = viewer.locator("#viewer-facts")
    expect(facts).to_contain_text("Size")
    expect(facts).to_contain_text("Uploaded")
    # Every tag is here, the technical ones too, content ones first.
    expect(viewer.get_by_role("button", name="format:jpeg", exact=True)).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-viewer.png"))

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Open beach.jpg"
    assert errors == []


def test_an_image_deleted_elsewhere_says_so_in_the_full_view(stack: Stack, browser: Any, user: str) -> None:
    from playwright.sync_api import expect

    image_id = named_upload(stack, user, image_bytes("JPEG", (90, 60), (20, 160, 40)), "gone.jpg")
    page, errors = open_page(browser, user=user)
    page.goto(f"{stack.url}/api/app/")
    opener = page.get_by_role("button", name="Open gone.jpg")
    expect(opener).to_be_visible()
    assert stack.call("DELETE", f"/api/images/{image_id}", user).status_code == 204
    opener.click()
    expect(page.locator("#viewer-status")).to_have_text("This image was deleted.")
    page.keyboard.press("Escape")
    expect(page.locator(".card")).to_have_count(0)
    assert errors == []


def test_a_search_that_finds_nothing_offers_the_closest_tags_and_the_box_completes_from_them(
    stack: Stack, browser: Any, user: str
) -> None:
    from playwright.sync_api import expect

    named_upload(stack, user, image_bytes("JPEG", (90, 60), (20, 160, 40)), "lawn.jpg")
    page, errors = open_page(browser, user=user)
    page.goto(f"{stack.url}/api/app/")
    expect(page.locator(".card")).to_have_count(1)
    options = page.locator("#known-tags option")
    expect(options.first).to_be_attached()
    assert "color:green" in options.evaluate_all("all => all.map(o => o.value)")

    page.get_by_label("Search tags").fill("green")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#status")).to_contain_text("0 images tagged green")
    suggestions = page.locator("#suggestions")
    expect(suggestions).to_contain_text("No image is tagged green. Did you mean:")
    suggestions.get_by_role("button", name="color:green (1)").click()
    expect(page.locator("#status")).to_contain_text("1 image tagged color:green")
    expect(suggestions).to_be_hidden()

    page.get_by_label("Search tags").fill("qqqqqq")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(suggestions).to_contain_text("Browse the tags above to see what there is.")
    assert errors == []


def test_on_a_touch_phone_the_page_speaks_of_tapping_and_thumbnails_are_shown_no_larger_than_sharp(
    stack: Stack, browser: Any, user: str
) -> None:
    from playwright.sync_api import expect

    named_upload(stack, user, photo_bytes(), "dune.jpg")
    # Tall enough for the whole page: a full-page screenshot would override the device emulation, touch included.
    context = browser.new_context(viewport={"width": 390, "height": 1300}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)  # fmt: skip
    context.add_init_script(f"localStorage.setItem('tagging.user', {user!r})")
    page = context.new_page()
    page.goto(f"{stack.url}/api/app/")
    drop = page.locator("#drop")
    expect(drop).to_contain_text("tap to choose")
    assert "click" not in drop.inner_text()
    assert "Enter" not in drop.inner_text()
    thumb = page.locator(".card img").first
    expect(thumb).to_have_attribute("src", re.compile("^blob:"))
    expect(thumb).to_have_js_property("complete", True)
    box = thumb.bounding_box()
    assert box is not None
    natural = page.evaluate("document.querySelector('.card img').naturalWidth")
    # Shown at 112 CSS px: 224 device pixels here, from a thumbnail of 256.
    assert box["width"] * 2 <= natural, (box, natural)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-phone-touch.png"))
    context.close()


def test_the_full_view_shows_similar_photos_and_the_duplicates_view_deletes_the_extras(
    stack: Stack, browser: Any, user: str
) -> None:
    from playwright.sync_api import expect

    picture = scene((1200, 900), seed=31)
    original = named_upload(stack, user, save(picture, "JPEG", quality=92), "original.jpg")
    copy = named_upload(stack, user, save(picture.resize((600, 450)), "JPEG", quality=70), "copy.jpg")
    named_upload(stack, user, save(scene((1200, 900), seed=32), "JPEG"), "other.jpg")
    page, errors = open_page(browser, user=user)
    page.goto(f"{stack.url}/api/app/")
    page.get_by_role("button", name="Open original.jpg").click()
    similar = page.locator("#similar")
    expect(similar.locator("li")).to_have_count(1)
    expect(similar).to_contain_text("copy.jpg")
    expect(page.locator("#similar-status")).to_contain_text("1 within 10 bits of this one")
    page.keyboard.press("Escape")

    page.get_by_text("Near duplicates").click()
    groups = page.locator("#duplicate-groups > li")
    expect(groups).to_have_count(1)
    # Shown under the newest copy; the one kept is the largest.
    expect(groups.first).to_contain_text("original.jpg, and 1 copy of it")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-duplicates.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    groups.first.get_by_role("button", name="Delete the 1 copy").click()
    expect(groups).to_have_count(0)
    expect(page.locator(".card")).to_have_count(2)
    assert stack.get(copy, user).status_code == 404
    assert stack.get(original, user).status_code == 200
    assert errors == []


def test_an_api_that_is_down_gets_a_clear_message_not_a_blank_page(stack: Stack, browser: Any, user: str) -> None:
    from playwright.sync_api import expect

    page, errors = open_page(browser, user=user)
    page.goto(f"{stack.url}/api/app/")
    expect(page.locator("#status")).to_contain_text("0 images")
    page.route(re.compile(r"/api/(images|tags|duplicates)"), lambda route: route.abort())
    page.get_by_label("Search tags").fill("dog")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#status")).to_have_text("The app cannot be reached: is it running?")
    page.get_by_text("Near duplicates").click()
    expect(page.locator("#duplicates-status")).to_have_text("The app cannot be reached: is it running?")
    assert errors == []
