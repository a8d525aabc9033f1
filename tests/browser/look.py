"""Look at a page as the issue asks: keep a screenshot of it and check it with axe-core.

    look_at(page, "seat-map")   # tests/browser/artifacts/seat-map-desktop.png (or -phone)

axe-core is the npm package pinned in tests/browser/package.json (`./scripts/test` runs `npm ci`
there when it is missing). It is evaluated into the page as source, not added as a <script>
tag: the site's Content-Security-Policy (script-src 'self') would block the tag, and rightly.
A page with a violation of serious or critical impact fails the test, each one listed with the
elements it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
PHONE_MAX_WIDTH = 400
# What fails a test; "moderate" and "minor" findings are left to review.
FAILING_IMPACTS = ("serious", "critical")

_axe_source: str | None = None


def axe_source() -> str:
    """axe-core's source; a clear failure (never a skip) when it is not installed."""
    global _axe_source
    if _axe_source is None:
        if not AXE.is_file():
            raise AssertionError(
                f"axe-core is not installed ({AXE} is missing): run ./scripts/test, or "
                f"`npm ci` in {HERE}"
            )
        _axe_source = AXE.read_text(encoding="utf-8")
    return _axe_source


def form_factor(page: Page) -> str:
    """'phone' for a viewport at most 400 px wide, else 'desktop'."""
    size = page.viewport_size
    return "phone" if size is not None and size["width"] <= PHONE_MAX_WIDTH else "desktop"


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as artifacts/<name>-<desktop|phone>.png; its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{form_factor(page)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe-core finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated as the body of a function: axe's UMD wrapper then sets window.axe.
        page.evaluate(f"() => {{ {axe_source()}\n }}")
    result = page.evaluate(
        """async () => {
            const found = await window.axe.run(document, {resultTypes: ["violations"]});
            return found.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                nodes: v.nodes.map(n => ({target: n.target.join(" "), html: n.html,
                                          summary: n.failureSummary || ""})),
            }));
        }"""
    )
    return list(result)


def describe(violations: list[dict[str, Any]]) -> str:
    """Violations as lines a person can act on."""
    lines = []
    for v in violations:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            summary = " ".join(node["summary"].split())
            html = " ".join(node["html"].split())[:160]
            lines.append(f"    {node['target']}  {html}")
            lines.append(f"      {summary}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def look_at(page: Page, name: str) -> Path:
    """Screenshot the page (see `screenshot`), then fail if axe-core finds a serious or
    critical violation on it; returns the screenshot's path."""
    path = screenshot(page, name)
    failing = [v for v in axe_violations(page) if v.get("impact") in FAILING_IMPACTS]
    assert not failing, (
        f"axe-core: {len(failing)} serious or critical violation(s) on {name} "
        f"({page.url}, screenshot {path}):\n{describe(failing)}"
    )
    return path
