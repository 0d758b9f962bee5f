"""The dashboard in a real browser (Debian's Chromium driven by Playwright) on the default demo shop
(`granular demo`: 1,000 customers), at a desktop and a phone width; any console error, failed
request or HTTP error status fails the test. Screenshots go to tests/screenshots/."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ADMIN_KEY, Api, live_gql
from tests.http.browser import SCREENSHOTS, browser_page, needs_chromium

if TYPE_CHECKING:
    from playwright.sync_api import Page

WIDTHS = {"wide": (1400, 900), "phone": (390, 844)}
LOADING = 120_000  # ms: the demo's aggregations take seconds each on the embedded database
# What the status line says once each view has its data.
LOADED = {
    "attribution": "conversions worth",
    "funnel": "reached the first step",
    "scores": "Counted over every profile",
    "ltv": "Counted over every customer",
}


@contextmanager
def _dashboard(
    url: str, width: str, problems: list[str], *, view: str | None = "attribution"
) -> Iterator["Page"]:
    """The dashboard at one of WIDTHS, opened at `view` and signed in with the ADMIN key (signed out
    when `view` is None); every console error, uncaught exception, failed request and HTTP error
    status is appended to `problems`."""
    columns, rows = WIDTHS[width]
    with browser_page(problems, width=columns, height=rows) as page:
        page.on("requestfailed", lambda r: problems.append(f"failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
        page.goto(f"{url}/dashboard/#{view or ''}")
        if view is not None:
            page.fill("#key", ADMIN_KEY)
            page.click("#key-form button[type=submit]")
            _loaded(page, view)
        yield page


def _open(page: "Page", view: str) -> None:
    page.click(f"#tabs button[data-view={view}]")
    _loaded(page, view)


def _loaded(page: "Page", view: str) -> None:
    """Wait until the view shows its data, without an error."""
    from playwright.sync_api import expect

    status = page.locator("#status")
    if view in LOADED:
        expect(status).to_contain_text(LOADED[view], timeout=LOADING)
    elif view == "compliance":
        expect(page.locator("#dsr tbody tr").first).to_be_visible(timeout=LOADING)
    expect(status).not_to_have_class("error")


def _fits_the_width(page: "Page") -> bool:
    overflow: bool = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    return not overflow


def _a_customer(url: str) -> str:
    """The user id of an identified (buying) customer of the demo shop."""
    edges = live_gql(url, "{ profiles(first: 50) { edges { node { userId } } } }")["profiles"]["edges"]
    return next(e["node"]["userId"] for e in edges if e["node"]["userId"])


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_without_a_key_only_the_key_form_shows(demo_shop: str, width: str) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    with _dashboard(demo_shop, width, problems, view=None) as page:
        expect(page.locator("#key-form")).to_be_visible()
        for hidden in ("#tabs", "#range", "main", "#session", "canvas"):
            expect(page.locator(hidden).first).to_be_hidden()
        assert _fits_the_width(page)
        page.screenshot(path=str(SCREENSHOTS / f"dashboard-{width}-signed-out.png"), full_page=True)
    assert problems == []


@needs_chromium
def test_every_view_shows_the_demo_shop_at_desktop_and_phone_widths_without_errors(demo_shop: str) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    with _dashboard(demo_shop, "wide", problems) as page:
        assert "gr_" not in page.url
        # The phone pass re-draws every view at its width from the answers the page already holds.
        for width, (columns, rows) in WIDTHS.items():
            page.set_viewport_size({"width": columns, "height": rows})
            for view in ("attribution", "funnel", "scores", "ltv", "profile", "compliance"):
                _open(page, view)
                if view == "profile":
                    page.fill("#profile-id", _a_customer(demo_shop))
                    page.click("#profile-form button[type=submit]")
                    expect(page.locator("#timeline li").first).to_be_visible(timeout=LOADING)
                assert _fits_the_width(page), (width, view)
                page.screenshot(path=str(SCREENSHOTS / f"dashboard-{width}-{view}.png"), full_page=True)
    assert problems == []


@needs_chromium
def test_attribution_credits_channels_campaigns_and_micro_conversions_under_every_model(
    demo_shop: str,
) -> None:
    from playwright.sync_api import expect

    problems: list[str] = []
    with _dashboard(demo_shop, "wide", problems) as page:
        first_column = page.locator("#attribution-table tbody tr td:first-child span")
        expect(first_column.first).to_be_visible()
        page.select_option("#group-by", "CAMPAIGN")
        expect(page.locator("#key-heading")).to_have_text("Campaign", timeout=LOADING)
        expect(first_column.filter(has_text="weekly-edit")).to_have_count(1, timeout=LOADING)
        page.select_option("#group-by", "EVENT")
        expect(first_column.filter(has_text="Product viewed")).to_have_count(1, timeout=LOADING)
        expect(
            page.locator("#attribution-table small").filter(has_text="A product page was viewed.")
        ).to_have_count(1)
        for model in ("MARKOV", "SHAPLEY"):
            page.select_option("#model", model)
            expect(page.locator("#model-help")).to_contain_text(model.capitalize())
        page.select_option("#measure", "value")
        expect(page.locator("#status")).to_contain_text(LOADED["attribution"])
        page.screenshot(path=str(SCREENSHOTS / "dashboard-wide-micro-conversions.png"), full_page=True)
    assert problems == []


@needs_chromium
def test_phases_count_every_profile_not_a_first_page(demo_shop: str) -> None:
    from playwright.sync_api import expect

    counted = live_gql(demo_shop, "{ phaseDistribution { profiles } }")["phaseDistribution"]["profiles"]
    assert counted > 1000
    problems: list[str] = []
    with _dashboard(demo_shop, "wide", problems, view="scores") as page:
        expect(page.locator("#phase-summary")).to_contain_text(f"{counted:,} profiles")
    assert problems == []


@needs_chromium
def test_compliance_finds_a_customer_by_email_and_lists_the_export_newest_first(demo_shop: str) -> None:
    from playwright.sync_api import expect

    user_id = _a_customer(demo_shop)
    email = f"customer{int(user_id.rsplit('-', 1)[1])}@demo.granular.example"
    problems: list[str] = []
    with _dashboard(demo_shop, "wide", problems, view="compliance") as page:
        page.select_option("#subject-kind", "email")
        page.fill("#subject-value", email)
        page.click("#subject-find")
        expect(page.locator("#subject-found")).to_contain_text(
            "1 profile(s) hold this e-mail", timeout=LOADING
        )
        page.click("#subject-actions button[data-kind=export]")
        expect(page.locator("#dsr-result")).to_contain_text("Export dsr_", timeout=LOADING)
        expect(page.locator("#dsr-result a")).to_have_text("Download the export (works once, for 24 hours)")
        newest = page.locator("#dsr tbody tr").first
        expect(newest).to_contain_text("Export")
        expect(newest).to_contain_text("GDPR")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-wide-compliance-export.png"), full_page=True)
    assert problems == []


async def test_the_dashboard_is_served_with_strict_security_headers(api: Api) -> None:
    response = await api.http.get("/dashboard/")
    assert response.status_code == 200
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "cdn" not in response.text.lower()


async def test_the_servers_address_leads_to_the_dashboard(api: Api) -> None:
    response = await api.http.get("/")
    assert (response.status_code, response.headers["location"]) == (307, "/dashboard/")
