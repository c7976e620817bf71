"""The dashboard in a real browser against a running demo: overview, drill-down, live values, passports by access
group, SPARQL console, AASX download, and nothing loaded from outside packtwin."""

from __future__ import annotations

import base64
import re
import time

import requests

from packtwin.ontology import catalog
from tests.web.conftest import RunningDemo, screenshot

PACK = "PT-P000001"


def _sign_in(page, demo: RunningDemo, role: str, hash_: str = "") -> None:
    page.goto(demo.url + "/" + hash_)
    page.wait_for_selector("#role:not([disabled])")
    if page.eval_on_selector("#role", "el => el.value") != role:
        page.select_option("#role", role)
    page.wait_for_function("r => document.querySelector('#role').value === r", arg=role)


def test_overview_loads_with_distributions_and_packs(page, demo: RunningDemo) -> None:
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))
    _sign_in(page, demo, "operator")
    page.wait_for_selector('[data-testid="pack-row"]')
    assert page.locator('[data-testid="pack-row"]').count() == 3
    assert page.locator('[data-testid="kpi-packs"]').inner_text() == "3"
    assert page.locator('[data-testid="soh-histogram"] rect').count() > 5
    assert page.locator('[data-testid="soc-histogram"] rect').count() > 5
    page.wait_for_selector('[data-testid="live-status"].on')  # the server-sent-events stream is open
    screenshot(page, "overview")
    outside = [u for u in requests_seen if not u.startswith(demo.url) and not u.startswith(("data:", "blob:"))]
    assert outside == []  # closed network: every resource is served by packtwin


def test_drill_down_pack_module_cell_follows_the_bom(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "operator")
    page.click(f'[data-testid="pack-row"][data-pack="{PACK}"] a[href="#/pack/{PACK}"]')
    page.wait_for_selector('[data-testid="module"]')
    modules = page.locator('[data-testid="module"]')
    assert modules.count() == 8
    assert [modules.nth(i).get_attribute("data-serial") for i in range(8)] == [f"{PACK}-M{m:02d}" for m in
                                                                                range(1, 9)]
    assert page.locator('[data-testid="cell-tile"]').count() == 96
    screenshot(page, "pack")
    page.click(f'[data-testid="cell-tile"][data-serial="{PACK}-M02-C005"]')
    page.wait_for_selector('[data-testid="chart-voltage"]')
    assert "Cell PT-P000001-M02-C005" in page.locator("h1").inner_text()
    for chart in ("chart-voltage", "chart-current", "chart-temperature"):
        assert page.locator(f'[data-testid="{chart}"] path').count() == 1
    page.wait_for_function("() => document.querySelector('[data-testid=cell-voltage-now]')?.textContent.endsWith(' V')")
    screenshot(page, "cell")


def test_live_values_change_without_reload(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "operator", f"#/cell/{PACK}-M01-C003")
    page.wait_for_function("() => document.querySelector('[data-testid=cell-voltage-now]')?.textContent.endsWith(' V')")
    first = page.locator('[data-testid="cell-time-now"]').inner_text()
    first_frames = int(page.locator('[data-testid="frames"]').inner_text())
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    page.wait_for_function(
        "([t, f]) => document.querySelector('[data-testid=cell-time-now]')?.textContent !== t"
        " && Number(document.querySelector('[data-testid=frames]')?.textContent) > f",
        arg=[first, first_frames], timeout=20_000)
    assert page.evaluate("window.__marker") == 1
    # Repository change events (Time Series latest values, estimates) reach the browser as server-sent events.
    page.wait_for_function("() => Number(document.querySelector('[data-testid=changes]')?.textContent) > 0",
                           timeout=20_000)


def _expected_paths(demo: RunningDemo, serial: str, role_key: str | None) -> list[str]:
    """Leaf paths the role may see, from the operator's full view and the access-group rule (own mark, else the
    nearest marked ancestor, else public)."""
    base = "https://example.org/packtwin"
    allowed = {None: {"public"}, "legitimate_interest": {"public", "legitimateInterest"}}[role_key]
    op = {"X-API-Key": demo.keys["operator"]}

    def b64(s: str) -> str:
        return base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")

    shell = requests.get(f"{demo.url}/api/v3.0/shells/{b64(f'{base}/aas/pack/{serial}')}", headers=op,
                         timeout=30).json()
    out: list[str] = []

    def group(el: dict, inherited: str) -> str:
        for ext in el.get("extensions", []):
            if ext.get("name") == "BatteryPassAccessGroup":
                return ext["value"]
        return inherited

    def walk(el: dict, path: str, inherited: str) -> None:
        g = group(el, inherited)
        if g not in allowed:
            return
        here = f"{path}.{el.get('idShort', '')}"
        kids = el.get("value") if el["modelType"] in ("SubmodelElementCollection", "SubmodelElementList") else \
            el.get("statements") if el["modelType"] == "Entity" else None
        if kids is None and el["modelType"] in ("SubmodelElementCollection", "SubmodelElementList", "Entity"):
            kids = []
        if kids is None:
            out.append(here)
        else:
            for k in kids:
                walk(k, here, g)

    for ref in shell["submodels"]:
        sm = requests.get(f"{demo.url}/api/v3.0/submodels/{b64(ref['keys'][-1]['value'])}", headers=op,
                          timeout=30).json()
        g = group(sm, "public")
        if g not in allowed:
            continue
        for el in sm.get("submodelElements", []):
            walk(el, sm["idShort"], g)
    return sorted(out)


def _shown_paths(page) -> list[str]:
    page.wait_for_selector('[data-testid="passport"] [data-testid="submodel"]')
    return sorted(page.eval_on_selector_all('[data-testid="passport-element"]', "els => els.map(e => e.dataset.path)"))


def test_public_and_recycler_passports_differ_exactly_by_access_group(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "operator", f"#/passport/{PACK}")
    page.click('[data-testid="view-as-anonymous"]')
    page.wait_for_selector('[data-testid="passport-role"] >> text=the public')
    public = _shown_paths(page)
    screenshot(page, "passport-public", full_page=False)
    page.click('[data-testid="view-as-legitimate_interest"]')
    page.wait_for_selector('[data-testid="passport-role"] >> text=a recycler')
    recycler = _shown_paths(page)
    screenshot(page, "passport-recycler", full_page=False)

    assert public == _expected_paths(demo, PACK, None)
    assert recycler == _expected_paths(demo, PACK, "legitimate_interest")
    extra = set(recycler) - set(public)
    assert set(public) < set(recycler)
    assert "legitimateInterest" in page.locator('[data-testid="passport-counts"]').inner_text()
    # What the recycler sees in addition: e.g. the state of health and the dismantling information.
    assert "ProductCondition.StateOfCertifiedEnergy.StateOfCertifiedEnergyValue" in extra
    assert all(not p.startswith("ProductCondition.StateOf") for p in public)
    groups_public = set(page.eval_on_selector_all('[data-testid="passport-element"]', "els => els.map(e => e.dataset.group)"))
    assert groups_public <= {"public", "legitimateInterest"}


def test_sparql_console_runs_a_catalogue_query(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "legitimate_interest", "#/sparql")
    page.wait_for_selector('[data-testid="catalogue"] a')
    assert page.locator('[data-testid="catalogue"] a').count() >= 5
    page.fill('[data-testid="sparql-text"]', f"{catalog.PREAMBLE}"
              f"SELECT ?pack WHERE {{ ?p a {catalog.PACK} ; pt:serialNumber ?pack }} ORDER BY ?pack")
    page.click('[data-testid="sparql-run"]')
    page.wait_for_selector('[data-testid="sparql-count"]')
    rows = page.locator('[data-testid="sparql-results"] tbody tr')
    deadline = time.monotonic() + 30  # the RDF graph fills in the background, packs first
    while rows.count() < 3 and time.monotonic() < deadline:
        time.sleep(1)
        page.click('[data-testid="sparql-run"]')
        page.wait_for_selector('[data-testid="sparql-count"]')
    assert [rows.nth(i).inner_text().strip() for i in range(rows.count())] == ["PT-P000001", "PT-P000002",
                                                                                "PT-P000003"]
    # A recycler's catalogue question: critical raw materials per pack (the packs' Material Composition).
    page.click('[data-testid="catalogue"] a:text-is("critical-raw-materials-per-pack")')
    assert "hasMaterial" in page.input_value('[data-testid="sparql-text"]')
    deadline = time.monotonic() + 30
    while True:
        page.click('[data-testid="sparql-run"]')
        page.wait_for_selector('[data-testid="sparql-count"]')
        if rows.count() > 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows.count() > 0
    assert {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())} <= {
        "PT-P000001", "PT-P000002", "PT-P000003"}
    screenshot(page, "sparql")


def test_aasx_download_of_a_pack(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "operator", f"#/passport/{PACK}")
    page.wait_for_selector('[data-testid="passport"] [data-testid="submodel"]')
    with page.expect_download(timeout=60_000) as info:
        page.click(f'[data-aasx="{PACK}"]')
    download = info.value
    assert download.suggested_filename == f"{PACK}.aasx"
    with open(download.path(), "rb") as fh:
        data = fh.read()
    assert data[:2] == b"PK" and len(data) > 1000 and re.search(rb"aasx", data)


def test_a_public_visitor_sees_no_live_cell_data(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "anonymous")
    page.wait_for_selector('[data-testid="needs-signin"]')
    assert page.locator('[data-testid="pack-row"]').count() == 0
    assert page.locator('[data-testid="live-status"]').inner_text() == "status polling"  # no event stream
    status = page.evaluate("fetch('/dashboard/api/overview').then(r => r.status)")
    assert status == 401
    page.goto(demo.url + f"/#/cell/{PACK}-M01-C001")
    page.wait_for_selector('[data-testid="needs-signin"]')
    # The note stays: no refused live-data fetch replaces it with an error afterwards.
    page.wait_for_load_state("networkidle")
    assert page.locator('[data-testid="needs-signin"]').count() == 1
    assert page.locator('[data-testid="error"]').count() == 0
    assert page.locator('[data-testid="chart-voltage"]').count() == 0


def test_a_slow_answer_for_an_earlier_role_does_not_overwrite_the_later_one(page, demo: RunningDemo) -> None:
    _sign_in(page, demo, "operator")  # saved: the next load starts as the operator
    page.wait_for_selector('[data-testid="pack-row"]')
    # In the page, the operator's overview answer arrives 1.5 s late: the visitor has signed out by then.
    page.add_init_script("""(() => {
        const fetch0 = window.fetch;
        window.__late = 0;
        window.fetch = (url, opts) => fetch0(url, opts).then(r => String(url).includes('/dashboard/api/overview')
            ? new Promise(ok => setTimeout(() => { window.__late += 1; ok(r); }, 1500)) : r);
    })()""")
    _sign_in(page, demo, "anonymous")
    page.wait_for_selector('[data-testid="needs-signin"]')
    page.wait_for_function("() => window.__late > 0", timeout=10_000)
    page.wait_for_timeout(300)
    assert page.locator('[data-testid="needs-signin"]').count() == 1
    assert page.locator('[data-testid="pack-row"]').count() == 0
