"""Open a Snakemake report in headless Chromium, walk every section and save screenshots.

    pip install playwright            # the Python driver only; it uses Debian's Chromium
    apt-get install chromium
    python scripts/check_report.py results/report.html --out results/report_screenshots

Prints what each section lists and fails (exit 1) when a section is missing or a figure,
table or the configuration does not open. Screenshots: home, statistics, configuration,
one figure per system, every table.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("--out", type=Path, default=Path("results/report_screenshots"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="the results folder the report was made from (figure counts)",
    )
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        def home():
            page.goto(args.report.resolve().as_uri())
            page.wait_for_timeout(1500)

        def shot(name):
            page.screenshot(path=str(args.out / f"{name}.png"))

        def open_section(name) -> bool:
            link = page.get_by_text(name, exact=True)
            if not link.count():
                problems.append(f"no '{name}' section")
                return False
            link.first.click()
            page.wait_for_timeout(800)
            return True

        def entries() -> list[str]:
            """Names listed in the side menu below the breadcrumb."""
            text = page.locator("body").inner_text().split("\n")
            return [t.strip() for t in text if t.strip()]

        def view_first_item(name, must_contain=None):
            """Open the first listed result with its 'eye' button and screenshot it; a text
            result (a data: URL) is decoded and checked instead."""
            eye = page.locator("a[iconname=eye]")
            if not eye.count():
                problems.append(f"{name}: nothing to open")
                return
            href = eye.first.get_attribute("href") or ""
            if href.startswith("data:text/"):
                text = base64.b64decode(href.split("base64,", 1)[1]).decode()
                (args.out / f"{name}.txt").write_text(text)
                if must_contain and must_contain not in text:
                    problems.append(f"{name}: lacks '{must_contain}'")
                return
            eye.first.click()
            page.wait_for_timeout(1500)
            shot(name)

        home()
        shot("home")
        body = page.locator("body").inner_text()
        for section in ("Workflow", "Statistics", "Configuration", "Figures", "Tables"):
            if section not in body:
                problems.append(f"home page lacks '{section}'")
        if open_section("Statistics"):
            shot("statistics")
        home()
        if open_section("Configuration"):
            view_first_item("configuration", must_contain="systems:")
        home()
        systems = []
        if open_section("Figures"):
            menu = entries()
            systems = [
                s
                for s in menu
                if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", s) and s not in ("Snakemake", "Report", "Results", "Figures")
            ]
            print("figure folders:", ", ".join(systems))
            for system in systems:
                home()
                open_section("Figures")
                open_section(system)
                listed = page.locator("a[iconname=eye]").count()
                drawn = len(list((args.results / "figures" / system).glob("*.png")))
                print(f"  {system}: {listed} figures listed, {drawn} PNG files in {args.results}/figures/{system}")
                if not listed or listed != drawn:
                    problems.append(f"figures of {system}: {listed} listed, {drawn} drawn")
                view_first_item(f"figure_{slug(system)}")
        home()
        if open_section("Tables"):
            tables = [e for e in entries() if e.endswith((".csv", ".md"))]
            print("tables:", ", ".join(tables))
            if not tables:
                problems.append("no tables listed")
            view_first_item("table")
        if errors:
            problems.append("JavaScript errors: " + "; ".join(errors[:3]))
        browser.close()
    print(f"screenshots in {args.out}")
    for p_ in problems:
        print("PROBLEM:", p_, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
