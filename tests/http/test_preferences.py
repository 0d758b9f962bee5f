"""The preference center in a real browser: headless Chromium (Debian's package) driven by Playwright,
with customer tokens minted through the API as a shop's backend would."""

import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.http.preferences import frame_ancestors
from server.settings import Settings
from tests.conftest import ADMIN_KEY, served
from tests.http.browser import SCREENSHOTS, another_origin, browser_page, needs_chromium

STATIC = Path(__file__).resolve().parents[2] / "server" / "http" / "static" / "preferences"


# A shop's account page that embeds the preference center and answers its "ready" with the token.
# It is its own origin on loopback: Chromium refuses to frame loopback pages into a public-looking origin.
SHOP_PAGE = b"""<!doctype html><html lang="en"><title>A shop</title>
<iframe id="prefs" title="Privacy choices" width="800" height="900"></iframe>
<script>
const given = new URLSearchParams(location.hash.slice(1));
const center = new URL(given.get("center"));
addEventListener("message", (event) => {
  if (event.origin === center.origin && event.data.type === "granular:ready")
    event.source.postMessage({type: "granular:token", token: given.get("token")}, center.origin);
});
document.getElementById("prefs").src = center.href;
</script></html>"""


class _ShopPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(SHOP_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[str]:
    with another_origin(_ShopPage) as origin:
        yield origin


@pytest.fixture
def server(settings: Settings, shop: str) -> Iterator[str]:
    with served(settings.model_copy(update={"cors_origins": [shop]})) as address:
        yield f"http://{address}"


def _gql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def _customer(url: str, user_id: str) -> str:
    """A customer who granted analytics and personalization, and a token the shop minted for them."""
    for purpose in ("ANALYTICS", "PERSONALIZATION"):
        _gql(
            url,
            "mutation($u: String!, $p: Purpose!) { setConsent(input: {userId: $u, purpose: $p, granted: true})"
            " { profileId } }",
            {"u": user_id, "p": purpose},
        )
    data = _gql(url, "mutation($u: String!) { createCustomerToken(userId: $u) { token } }", {"u": user_id})
    token: str = data["createCustomerToken"]["token"]
    return token


def _consent(url: str, user_id: str) -> dict[str, tuple[bool, str]] | None:
    query = "query($u: String!) { profile(userId: $u) { consent { purpose granted source } } }"
    profile = _gql(url, query, {"u": user_id})["profile"]
    if profile is None:
        return None
    return {row["purpose"]: (row["granted"], row["source"]) for row in profile["consent"]}


@needs_chromium
def test_a_customer_switches_personalization_off_with_the_keyboard(server: str) -> None:
    from playwright.sync_api import expect

    token = _customer(server, "customer-1")
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={token}")
        switch = page.get_by_role("switch", name="Personalization")
        # Locator waits, not page scripts: the page's CSP forbids eval, and the test keeps it on.
        expect(switch).to_be_checked(timeout=30_000)
        expect(page).to_have_url(f"{server}/preferences/")
        expect(page.get_by_role("switch", name="Analytics")).to_be_checked()
        expect(page.get_by_role("switch", name="Advertising")).not_to_be_checked()
        expect(page.locator("#state-ADVERTISING")).to_have_text("Off: you have not made a choice yet")
        expect(page.get_by_role("switch", name="Necessary")).to_be_disabled()
        expect(page.get_by_role("switch", name="Necessary")).to_be_checked()
        expect(page.locator("#state-PERSONALIZATION")).to_contain_text("(set by the shop)")

        switch.focus()
        page.keyboard.press("Space")
        expect(page.get_by_role("status")).to_have_text("Saved: Personalization is now off.", timeout=30_000)
        expect(switch).not_to_be_checked()
        expect(switch).to_be_focused()
        expect(page.locator("#state-PERSONALIZATION")).to_contain_text("(by you)")
        expect(page.locator("#history li").first).to_contain_text("Personalization switched off (by you)")
        expect(page.locator("#history li")).to_have_count(3)
        assert token not in page.content()
        page.screenshot(path=str(SCREENSHOTS / "preferences.png"), full_page=True)
    assert errors == []
    assert _consent(server, "customer-1") == {
        "ANALYTICS": (True, "API"),
        "PERSONALIZATION": (False, "CUSTOMER"),
    }


@needs_chromium
def test_a_customer_granular_has_never_seen_finds_every_choice_off(server: str) -> None:
    from playwright.sync_api import expect

    data = _gql(server, 'mutation { createCustomerToken(userId: "stranger") { token } }')
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={data['createCustomerToken']['token']}")
        expect(page.get_by_text("No choice has been recorded yet.")).to_be_visible(timeout=30_000)
        expect(page.get_by_role("switch", checked=True)).to_have_count(1)
        expect(page.get_by_role("switch", checked=True)).to_be_disabled()
        expect(page.get_by_text("Off: you have not made a choice yet")).to_have_count(5)
    assert errors == []


@needs_chromium
def test_in_an_opt_out_shop_an_undecided_choice_shows_on(server: str) -> None:
    from playwright.sync_api import expect

    _gql(server, "mutation { updateWorkspaceSettings(input: {consentMode: OPT_OUT}) { consentMode } }")
    data = _gql(server, 'mutation { createCustomerToken(userId: "stranger") { token } }')
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={data['createCustomerToken']['token']}")
        expect(page.get_by_text("On: you have not opted out")).to_have_count(5, timeout=30_000)
        expect(page.get_by_role("switch", checked=True)).to_have_count(6)
    assert errors == []


@needs_chromium
def test_an_embedding_shop_hands_the_token_over_by_post_message(server: str, shop: str) -> None:
    from playwright.sync_api import expect

    token = _customer(server, "customer-2")
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{shop}/account#center={server}/preferences&token={token}")
        frame = page.frame_locator("#prefs")
        expect(frame.get_by_role("switch", name="Personalization")).to_be_checked(timeout=30_000)
        expect(frame.locator("#history li")).to_have_count(2)
        page.screenshot(path=str(SCREENSHOTS / "preferences-embedded.png"), full_page=True)
    assert errors == []


@needs_chromium
def test_erasure_asks_first_and_cancel_changes_nothing(server: str) -> None:
    from playwright.sync_api import expect

    token = _customer(server, "customer-3")
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={token}")
        erase = page.get_by_role("button", name="Erase my data…")
        dialog = page.get_by_role("dialog", name="Erase all your data?")
        erase.focus()
        page.keyboard.press("Enter")
        expect(dialog).to_be_visible()
        expect(page.get_by_role("button", name="Cancel, keep my data")).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        expect(erase).to_be_focused()
        assert _consent(server, "customer-3") is not None

        erase.click()
        page.get_by_role("button", name="Yes, erase my data").click()
        expect(page.get_by_role("heading", name="Your data has been erased")).to_be_focused(timeout=30_000)
        expect(page.locator("#done-text")).to_have_text(
            "The shop no longer holds your profile, your activity or your choices."
        )
        expect(page.get_by_role("switch")).to_have_count(0)
        expect(page.get_by_role("button")).to_have_count(0)
        page.screenshot(path=str(SCREENSHOTS / "preferences-erased.png"), full_page=True)
    assert errors == []
    assert _consent(server, "customer-3") is None


@needs_chromium
def test_a_customer_downloads_their_data_as_a_file(server: str) -> None:
    from playwright.sync_api import expect

    token = _customer(server, "customer-4")
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={token}")
        page.get_by_role("button", name="Download my data").click()
        link = page.get_by_role("link", name="Save my-data.json")
        expect(link).to_be_focused(timeout=30_000)
        with page.expect_download() as download:
            link.click()
        assert download.value.suggested_filename == "my-data.json"
        assert "customer-4" in Path(download.value.path()).read_text()
    assert errors == []


@needs_chromium
def test_a_tampered_token_asks_to_reopen_the_link_and_is_never_shown(server: str) -> None:
    from playwright.sync_api import expect

    token = _customer(server, "customer-5")
    head, _, signature = token.rpartition(".")
    tampered = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    errors: list[str] = []
    with browser_page(errors) as page:
        page.goto(f"{server}/preferences#token={tampered}")
        heading = page.get_by_role("heading", name="This link has expired or is not valid")
        expect(heading).to_be_focused(timeout=30_000)
        expect(page.locator("#done-text")).to_have_text(
            "Please open your privacy choices again from the shop."
        )
        expect(page.get_by_role("switch")).to_have_count(0)
        assert signature[1:] not in page.content() + page.url
    # The browser itself reports the refused request; the page adds nothing.
    assert [e for e in errors if "status of 401" not in e] == []


def test_the_page_is_served_with_security_headers_that_allow_the_shop_to_embed_it(
    server: str, shop: str
) -> None:
    for path in ("/preferences/", "/preferences/preferences.js", "/preferences/preferences.css"):
        response = httpx.get(server + path)
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        for directive in (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
        ):
            assert directive in csp
        assert csp.endswith(f"frame-ancestors 'self' {shop}")
        assert "x-frame-options" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


def test_the_page_loads_nothing_from_another_origin() -> None:
    html = (STATIC / "index.html").read_text()
    assert set(re.findall(r'(?:src|href)="([^"]*)"', html)) == {
        "data:,",
        "/preferences/preferences.css",
        "/preferences/preferences.js",
    }
    assert (
        re.search(r"<style|\sstyle=|<script>|\son\w+=", html) is None
    )  # nothing inline for the CSP to refuse
    for name in ("index.html", "preferences.js", "preferences.css"):
        text = (STATIC / name).read_text()
        assert re.search(r"https?:|url\(|@import|eval\(|new Function", text) is None, name
    assert "Storage" not in (STATIC / "preferences.js").read_text()


def test_only_plain_origins_may_embed_the_page() -> None:
    configured = ["https://shop.example/", "http://127.0.0.1:3000", "*", "https://x.example; script-src *"]
    assert frame_ancestors(configured) == "'self' http://127.0.0.1:3000 https://shop.example"


def test_a_workspaces_allowed_origin_may_embed_the_page(server: str, shop: str) -> None:
    _gql(
        server,
        "mutation($o: [String!]) { updateWorkspaceSettings(input: {allowedOrigins: $o}) { allowedOrigins } }",
        {"o": ["https://brand.example"]},
    )
    csp = httpx.get(server + "/preferences/").headers["content-security-policy"]
    assert csp.endswith(f"frame-ancestors 'self' {shop} https://brand.example")
