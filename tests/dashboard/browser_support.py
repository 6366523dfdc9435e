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
LAPTOP = {"width": 1280, "height": 900}


def log_in(browser, base_url: str, username: str, viewport=LAPTOP):
    """A page of a new browser context, logged in through the form (confirm dialogs
    accepted)."""
    page = browser.new_context(viewport=viewport).new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page
