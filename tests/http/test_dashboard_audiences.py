"""The dashboard's Audiences view and its audience selector, in Chromium on the demo shop."""

from typing import TYPE_CHECKING

from tests.conftest import live_gql
from tests.http.browser import SCREENSHOTS, needs_chromium
from tests.http.test_dashboard import LOADED, LOADING, _dashboard, _fits_the_width, _open

if TYPE_CHECKING:
    from playwright.sync_api import Page

DEFINE = """mutation($input: AudienceInput!) { defineAudience(input: $input) { audience { id size } } }"""
LTV = "query($audience: ID) { ltvDistribution(audience: $audience) { customers } }"
SHOE_BROWSERS = {
    "name": "dashboard shoe browsers",
    "rule": {"affinity": {"key": "category:shoes", "minWeight": 0.1}},
}


def _status_text(page: "Page") -> str:
    text: str = page.locator("#status").inner_text()
    return text


@needs_chromium
def test_the_audiences_view_lists_sizes_charts_one_and_restricts_reports(demo_shop: str) -> None:
    from playwright.sync_api import expect

    audience = live_gql(demo_shop, DEFINE, {"input": SHOE_BROWSERS})["defineAudience"]["audience"]
    members = live_gql(demo_shop, LTV, {"audience": audience["id"]})["ltvDistribution"]["customers"]
    problems: list[str] = []
    with _dashboard(demo_shop, "wide", problems, view="audiences") as page:
        expect(page.locator("#status")).to_contain_text("members now", timeout=LOADING)
        row = page.locator("#audiences-table tbody tr").filter(has_text=SHOE_BROWSERS["name"])
        expect(row).to_contain_text("affinity for category:shoes at least 0.1")
        expect(row).to_contain_text(f"{audience['size']:,}")
        expect(page.locator("#audience-chart")).to_be_visible()
        assert _fits_the_width(page)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-wide-audiences.png"), full_page=True)

        _open(page, "attribution")
        everyone = _status_text(page)
        page.select_option("#audience-filter", audience["id"])
        expect(page.locator("#status")).not_to_have_text(everyone, timeout=LOADING)
        expect(page.locator("#status")).to_contain_text(LOADED["attribution"], timeout=LOADING)
        page.click("#tabs button[data-view=ltv]")  # the choice stays made: LTV is the members' too
        expect(page.locator("#audience-choice")).to_be_visible()
        expect(page.locator("#status")).to_contain_text("the chosen audience's members", timeout=LOADING)
        expect(page.locator("#ltv-summary")).to_contain_text(f"{members:,} members with an order")
        _open(page, "scores")  # a view its reports cannot restrict: no selector there
        expect(page.locator("#audience-choice")).to_be_hidden()
    assert problems == []
