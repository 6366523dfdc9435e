"""What the browser tests share: Debian's Chromium, launched by path (Playwright cannot
download browsers here), headless and without a sandbox. The fixtures that run it are in
tests/conftest.py."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"  # tests.factories.UserFactory
