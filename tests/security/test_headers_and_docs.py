"""Secure cookies, a strict Content-Security-Policy, and API docs served from our own files."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def settings_with(tmp_path, **env) -> dict:
    """Import the settings in a fresh process with this environment; return what they say."""
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SECURE_REFERRER_POLICY",
        "AXES_FAILURE_LIMIT",
        "AXES_COOLOFF_TIME",
        "METRICS_ALLOWED_NETWORKS",
    ]
    code = (
        "import json; from inventory_hub import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}, default=str))"
    )
    full_env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(64),
        "INVENTORY_HUB_VAR_DIR": str(tmp_path),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cookies_are_secure_whenever_debug_is_off(tmp_path):
    direct = settings_with(tmp_path, DEBUG="0")
    assert direct["SESSION_COOKIE_SECURE"] is True
    assert direct["CSRF_COOKIE_SECURE"] is True
    assert direct["SECURE_SSL_REDIRECT"] is True
    assert direct["SECURE_HSTS_SECONDS"] == 31536000
    assert direct["SECURE_PROXY_SSL_HEADER"] is None
    assert direct["SECURE_REFERRER_POLICY"] == "same-origin"

    behind_tls_proxy = settings_with(
        tmp_path,
        DEBUG="0",
        SECURE_SSL_REDIRECT="0",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )
    assert behind_tls_proxy["SESSION_COOKIE_SECURE"] is True
    assert behind_tls_proxy["CSRF_COOKIE_SECURE"] is True
    assert behind_tls_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]

    debugging = settings_with(tmp_path, DEBUG="1")
    assert debugging["SESSION_COOKIE_SECURE"] is False
    assert debugging["SECURE_HSTS_SECONDS"] == 0


def test_lockout_and_metrics_settings_come_from_the_environment(tmp_path):
    configured = settings_with(
        tmp_path,
        AXES_FAILURE_LIMIT="3",
        AXES_COOLOFF_MINUTES="2",
        METRICS_ALLOWED_NETWORKS="10.0.0.0/8, fd00::/8",
    )
    assert configured["AXES_FAILURE_LIMIT"] == 3
    assert configured["AXES_COOLOFF_TIME"] == "0:02:00"
    assert configured["METRICS_ALLOWED_NETWORKS"] == ["10.0.0.0/8", "fd00::/8"]


@pytest.mark.parametrize(
    "env",
    [{"SECURE_PROXY_SSL_HEADER": "https"}, {"METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,intranet"}],
)
def test_a_malformed_security_setting_stops_the_start_clearly(tmp_path, env):
    code = "from inventory_hub import settings"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "INVENTORY_HUB_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert next(iter(env)) in result.stderr


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_the_login_page_sends_a_strict_csp_and_the_referrer_policy(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no nonce: nothing inline here
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script on the login page"
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)
    assert '"includeIndicatorStyles": false' in html


def test_api_docs_load_only_our_own_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        assert url.startswith("/"), f"{url} is not served by the hub"
        assert not url.startswith("//")
    assert "cdn." not in html
    assert any("swagger-ui-bundle.js" in url for url in urls)

    directives = csp_directives(response)
    nonces = [value for value in directives["script-src"] if value.startswith("'nonce-")]
    assert len(nonces) == 1
    nonce = nonces[0][len("'nonce-") : -1]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline)

    for url in urls:
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url
