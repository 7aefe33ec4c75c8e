"""The web app in a real browser: chromium against ``cards serve``, as a person would use it.

The tests run in order on one server (see conftest): the uploader's journey first (sign in,
upload two sample cards, review, correct, export, sign out), then the other uploader, the
privacy desk and the catalog on the cards it left. Screenshots of every page go to
``var/screenshots/`` (desktop, and 360×740 for the uploader's pages on a phone).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browsing import PHONE, WebServer

pytest.importorskip("playwright")

CARDS = ("card_01.png", "card_02.png")
STATE: dict[str, Any] = {}  # what the journey leaves for the tests after it (card ids, an e-mail)


def sign_in(page: Any, server: WebServer, name: str) -> None:
    page.goto(server.url("/app/login"))
    page.get_by_label("API key").fill(server.keys[name])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/app/login" not in page.url, page.content()


def shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def assert_accessible_basics(page: Any) -> None:
    """Every visible form control has a label, and nothing is wider than the window."""
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map(el => el.name || el.id)"""
    )
    assert unlabeled == []
    # What sticks out past the window's right edge (scrollWidth alone is unreliable on a mobile
    # viewport while it settles its zoom: it reported overflow with no element beyond the edge).
    widest = page.evaluate(
        """(w) => [...document.querySelectorAll('body *')]
              .map(el => [el.getBoundingClientRect().right - w, el.tagName + '.' + el.className])
              .filter(([over]) => over > 0.5)
              .slice(0, 5)""",
        page.viewport_size["width"],
    )
    assert widest == [], f"wider than the window: {widest}"


def overlay_offsets(page: Any) -> list[float]:
    """How far each drawn box is from its stored box scaled to the displayed image, in CSS pixels."""
    return page.evaluate(
        """() => {
          const img = document.getElementById('card-img');
          const at = img.getBoundingClientRect();
          const scale = at.width / img.naturalWidth;
          return [...document.querySelectorAll('#overlay rect')].map(rect => {
            const [x, y, w, h] = rect.dataset.bbox.split(',').map(Number);
            const drawn = rect.getBoundingClientRect();
            return Math.max(Math.abs(drawn.left - (at.left + x * scale)),
                            Math.abs(drawn.top - (at.top + y * scale)),
                            Math.abs(drawn.width - w * scale), Math.abs(drawn.height - h * scale));
          });
        }"""
    )


def test_an_uploader_uploads_reviews_corrects_exports_and_signs_out(
    web_server: WebServer, browser: Any, screenshots: Path, samples_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(web_server.url("/app/login"))
    assert_accessible_basics(page)
    shot(page, screenshots, "login")
    sign_in(page, web_server, "uploader-a")
    assert page.url.endswith("/app/queue")
    cookie = next(c for c in context.cookies() if c["name"] == "cv_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    assert web_server.keys["uploader-a"] not in page.content()

    page.goto(web_server.url("/app/upload"))
    assert_accessible_basics(page)
    page.get_by_label("Card images").set_input_files([str(samples_dir / name) for name in CARDS])
    page.get_by_label("Catalog: the company details").check()
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("link", name=re.compile(r"Review card \d+")).nth(1).wait_for(timeout=60_000)
    shot(page, screenshots, "upload-progress")
    links = page.get_by_role("link", name=re.compile(r"Review card \d+"))
    ids = sorted(int(links.nth(i).inner_text().split()[-1]) for i in range(links.count()))
    assert len(ids) == 2
    STATE["cards"] = ids

    page.goto(web_server.url("/app/queue"))
    assert_accessible_basics(page)
    shot(page, screenshots, "queue")
    assert page.locator(".queue li").count() == 2

    page.goto(web_server.url(f"/app/cards/{ids[0]}"))
    page.wait_for_function("document.getElementById('card-img').complete")
    assert_accessible_basics(page)
    shot(page, screenshots, "review")
    offsets = overlay_offsets(page)
    assert len(offsets) >= 5 and max(offsets) < 1.5, offsets
    STATE["email"] = page.locator(".value.f-emails input").first.input_value()

    # Clicking a box opens its value; Enter accepts it and moves to the next value.
    page.locator("#overlay a").first.click()
    first = page.evaluate("document.activeElement.id")
    assert first.startswith("v-")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") != first

    phone = page.locator(".value.f-phones input").first
    phone.fill("+14155550199")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Values saved.").wait_for()
    assert page.locator(".value.f-phones input").first.input_value() == "+14155550199"
    assert "read as" in page.locator(".value.f-phones .meta").first.inner_text()  # the OCR value kept
    export = page.request.get(web_server.url("/app/export?format=vcard"))
    assert export.ok and "+14155550199" in export.text()

    # The "next card" key, outside a field.
    page.locator("h1").click()
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/app/cards/\d+$"))
    assert page.url.rsplit("/", 1)[1] != str(ids[0])

    phone_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone_page = phone_context.new_page()
    sign_in(phone_page, web_server, "uploader-a")
    for name, path in (
        ("upload", "/app/upload"),
        ("queue", "/app/queue"),
        ("review", f"/app/cards/{ids[0]}"),
    ):
        phone_page.goto(web_server.url(path))
        assert_accessible_basics(phone_page)
        shot(phone_page, screenshots, f"phone-{name}")
    assert max(overlay_offsets(phone_page)) < 1.5
    phone_context.close()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    page.goto(web_server.url("/app/queue"))
    assert page.url.endswith("/app/login")
    context.close()


def test_a_form_posted_without_its_csrf_token_is_refused(web_server: WebServer, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, web_server, "uploader-a")
    card = STATE["cards"][1]
    page.goto(web_server.url(f"/app/cards/{card}/delete"))
    page.evaluate("document.querySelector('main form input[name=csrf]').remove()")
    with page.expect_navigation():
        page.get_by_role("button", name="Delete the card").click()
    assert "csrf_failed" in page.content()
    assert page.goto(web_server.url(f"/app/cards/{card}")).status == 200  # still there
    context.close()


def test_another_uploader_gets_a_404_page(web_server: WebServer, browser: Any, screenshots: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, web_server, "uploader-b")
    response = page.goto(web_server.url(f"/app/cards/{STATE['cards'][0]}"))
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    shot(page, screenshots, "not-found")
    assert page.goto(web_server.url(f"/app/cards/{STATE['cards'][0]}/image")).status == 404
    assert page.goto(web_server.url("/app/privacy")).status == 403
    context.close()


def test_the_privacy_desk_erases_a_person_and_their_card_leaves_the_queue(
    web_server: WebServer, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    sign_in(page, web_server, "privacy-officer")
    assert_accessible_basics(page)
    page.get_by_label("E-mail address").fill(STATE["email"])
    page.get_by_role("button", name="Find the person").click()
    page.get_by_text("from uploader-a").first.wait_for()
    shot(page, screenshots, "privacy-report")
    phone_context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone_page = phone_context.new_page()
    sign_in(phone_page, web_server, "privacy-officer")
    phone_page.get_by_label("E-mail address").fill(STATE["email"])
    phone_page.get_by_role("button", name="Find the person").click()
    phone_page.get_by_text("from uploader-a").first.wait_for()
    assert_accessible_basics(phone_page)
    shot(phone_page, screenshots, "phone-privacy-report")
    phone_context.close()
    page.get_by_role("button", name="Erase…").click()
    assert page.get_by_role("heading", name="Confirm: Erase").is_visible()
    shot(page, screenshots, "privacy-confirm")
    page.get_by_role("button", name="Confirm: Erase").click()
    page.get_by_role("heading", name="Done: Erase").wait_for()
    shot(page, screenshots, "privacy-done")
    context.close()

    uploader = browser.new_context()
    page = uploader.new_page()
    sign_in(page, web_server, "uploader-a")
    page.goto(web_server.url("/app/queue"))
    remaining = page.locator(".queue a.card-link").evaluate_all("links => links.map(a => a.href)")
    assert [int(href.rsplit("/", 1)[1]) for href in remaining] == [STATE["cards"][1]]
    assert page.goto(web_server.url(f"/app/cards/{STATE['cards'][0]}")).status == 404
    uploader.close()


def test_the_catalog_browser_lists_companies_with_catalog_fields(
    web_server: WebServer, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    sign_in(page, web_server, "catalog-team")
    assert page.url.endswith("/app/catalog")
    assert_accessible_basics(page)
    shot(page, screenshots, "catalog")
    assert page.locator(".companies li").count() >= 1
    assert "@" not in page.locator(".companies").inner_text()  # no e-mail: not a catalog field
    context.close()


def test_without_javascript_the_upload_form_and_the_overlay_still_work(
    web_server: WebServer, browser: Any, screenshots: Path, samples_dir: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, web_server, "uploader-b")
    page.goto(web_server.url("/app/upload"))
    page.get_by_label("Card images").set_input_files([str(samples_dir / "card_03.png")])
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("heading", name="Uploaded").wait_for(timeout=60_000)
    shot(page, screenshots, "upload-done-no-js")
    page.get_by_role("link", name=re.compile(r"Review card \d+")).click()
    page.wait_for_url(re.compile(r"/app/cards/\d+$"))
    assert page.locator("#overlay rect").count() >= 3  # drawn by the server, not by script
    page.get_by_role("button", name="Sign out").click()
    assert "/app/login" in page.url
    context.close()
