"""The dashboard in a real browser: headless Chromium (Debian's package) driven by Playwright."""

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from server.domain.demo_shop import Plan, messages
from server.settings import Settings
from tests.conftest import ADMIN_KEY, served
from tests.http.browser import SCREENSHOTS, browser_page, needs_chromium

pytestmark = needs_chromium


@pytest.fixture
def shop(settings: Settings) -> Iterator[str]:
    with served(settings) as address:
        url = f"http://{address}"
        auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
        shop = messages(Plan(customers=80, days=30, seed=3), datetime.now(UTC))
        with httpx.Client(timeout=60) as http:
            for start in range(0, len(shop), 500):
                http.post(
                    url + "/v1/batch", json={"batch": shop[start : start + 500]}, headers=auth
                ).raise_for_status()
            http.post(url + "/graphql", json={"query": "mutation { fitModels { customers } }"}, headers=auth)
        yield url


def _an_anonymous_id_with_events(url: str) -> str:
    query = "{ profiles(first: 100) { edges { node { id anonymousIds } } } }"
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    nodes = [
        e["node"]
        for e in httpx.post(url + "/graphql", json={"query": query}, headers=auth).json()["data"]["profiles"][
            "edges"
        ]
    ]
    for node in nodes:
        journey = httpx.post(
            url + "/graphql",
            json={
                "query": "query($id: ID!) { journey(profileId: $id, first: 1) { edges { cursor } } }",
                "variables": {"id": node["id"]},
            },
            headers=auth,
        ).json()
        if journey["data"]["journey"]["edges"] and node["anonymousIds"]:
            anonymous_id: str = node["anonymousIds"][0]
            return anonymous_id
    raise AssertionError("the demo shop stored no events")


def test_the_dashboard_shows_attribution_switches_models_and_looks_up_a_profile(shop: str) -> None:
    from playwright.sync_api import expect

    visitor = _an_anonymous_id_with_events(shop)
    errors: list[str] = []
    with browser_page(errors, width=1366, height=900) as page:
        page.goto(shop + "/dashboard/")
        assert "key" not in page.url
        page.fill("#key", ADMIN_KEY)
        page.click("#key-form button[type=submit]")
        # Locator waits, not page scripts: the page's CSP forbids eval, and the test keeps it on.
        expect(page.locator("#status")).to_contain_text("conversions", timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-attribution.png"), full_page=True)
        page.select_option("#model", "MARKOV")
        expect(page.locator("#status")).to_contain_text("conversions", timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-markov.png"), full_page=True)
        assert "gr_" not in page.url

        page.click("button[data-view=profile]")
        page.fill("#profile-id", visitor)
        page.click("#profile-form button[type=submit]")
        page.wait_for_selector("#profile-card dl")
        expect(page.locator("#timeline li").first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-profile.png"), full_page=True)

        for view in ("funnel", "scores", "ltv", "compliance"):
            page.click(f"button[data-view={view}]")
            expect(page.locator("#status")).not_to_have_text("Loading…", timeout=30_000)
            page.screenshot(path=str(SCREENSHOTS / f"dashboard-{view}.png"), full_page=True)
    assert errors == []


def test_the_dashboard_is_served_with_strict_security_headers(shop: str) -> None:
    response = httpx.get(shop + "/dashboard/")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "cdn" not in response.text.lower()
