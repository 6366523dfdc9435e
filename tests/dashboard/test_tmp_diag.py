from tests.dashboard.test_browser import *  # noqa

def test_diag(live_server, user, shop, browser):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log_in(page, live_server.url, user.username)
    for url in ["/", "/skus/TEE-RED-M/", "/channels/", "/channels/market/", "/incidents/", "/skus/new/"]:
        page.goto(live_server.url + url)
        print(url, page.evaluate("""() => {
          const out = [];
          document.querySelectorAll('body *').forEach(el => {
            const r = el.getBoundingClientRect();
            if (r.right > 391 && !el.closest('.table-wrap')) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
          });
          return [document.documentElement.scrollWidth, out.slice(0, 8)];
        }"""))
