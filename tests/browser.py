"""Debian's Chromium driven by Playwright, as the page tests and bench/bench_html.py launch it."""

from __future__ import annotations

import os

from playwright.sync_api import Browser, Playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright never downloads a browser here
# Quiet on a closed network: no background requests, no updates, no first-run pages, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "Debian's Chromium is missing: apt-get install chromium (and pip install playwright)"


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium with a fresh profile of its own (Playwright makes one per launch)."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(INSTALL_HINT)
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
