"""The permission matrix, generated from the URL configuration: every URL x method x
role (anonymous and a user with no role included). A view without a rule fails here, so
a new URL cannot ship open by accident. The rules are the views' `required_permissions`;
the roles' permissions are `foundation.roles.ROLES`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from foundation.permissions import PUBLIC, required_for
from foundation.roles import ROLES
from tests.factories import role_user

pytestmark = pytest.mark.django_db

# Open to anyone, each for a reason; every other URL must carry a rule.
PUBLIC_URLS = {
    "healthz": "proof of life for load balancers (details only for operators)",
    "metrics": "guarded by its own token or network (foundation.access)",
    "login": "the way in",
    "logout": "the way out",
    "schema": "the API's description, no data",
    "api-docs": "the API's description, no data",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE = {"int": "999999", "str": "NO-SUCH-CODE", "slug": "no-such-slug", "path": "NO/SUCH"}


@pytest.fixture(autouse=True)
def no_certify_process(monkeypatch):
    """Starting a certify run is a permitted POST here; the run itself is not the
    matrix's business (tests/certify starts one)."""
    monkeypatch.setattr("certify.views.launch", lambda command, *, log: 0)


@dataclass(frozen=True)
class Endpoint:
    url: str
    name: str
    view: object
    api: bool

    def methods(self) -> list[str]:
        cls = getattr(self.view, "cls", None) or getattr(self.view, "view_class", None)
        if cls is not None:
            return [m for m in METHODS if hasattr(cls, m.lower())]
        rule = getattr(self.view, "required_permissions", None)
        return [m for m in METHODS if isinstance(rule, dict) and m in rule] or ["GET"]

    def rule(self):
        cls = getattr(self.view, "cls", None) or getattr(self.view, "view_class", None)
        return getattr(cls or self.view, "required_permissions", None)


def _sample_url(route: str) -> str:
    def fill(match: re.Match) -> str:
        converter = match.group(1) or "str"
        return SAMPLE[converter]

    return "/" + re.sub(r"<(?:(\w+):)?\w+>", fill, route)


def endpoints() -> list[Endpoint]:
    found: list[Endpoint] = []

    def walk(patterns, prefix: str, namespace: str | None) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue  # Django's admin: is_staff plus its own model permissions
                walk(pattern.url_patterns, route, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                name = pattern.name or route
                found.append(
                    Endpoint(
                        url=_sample_url(route),
                        name=f"{namespace}:{name}" if namespace else name,
                        view=pattern.callback,
                        api=route.startswith("api/v1/") or route.startswith("webhooks/"),
                    )
                )

    walk(get_resolver().url_patterns, "", None)
    return found


CASES = [
    (endpoint, method)
    for endpoint in endpoints()
    if endpoint.name not in PUBLIC_URLS
    for method in endpoint.methods()
]
ROLE_NAMES = [*ROLES, None]


def _client(endpoint: Endpoint, role: str | None):
    if role == "anonymous":
        return APIClient() if endpoint.api else Client()
    person = role_user(role)
    if endpoint.api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
        return client
    client = Client()
    client.force_login(person)
    return client


def _call(client, method: str, url: str):
    if isinstance(client, APIClient):
        return getattr(client, method.lower())(url, {}, format="json")
    return getattr(client, method.lower())(url)


def test_every_url_has_a_rule_for_every_method_it_answers():
    missing = [
        f"{method} {endpoint.url} ({endpoint.name})"
        for endpoint, method in CASES
        if required_for(endpoint.rule(), method) is None and endpoint.rule() != PUBLIC
    ]
    assert not missing, "no permission rule: " + ", ".join(missing)


def test_the_public_urls_are_only_those_named_here():
    public = sorted({e.name for e, _ in CASES if e.rule() == PUBLIC})
    assert public == ["webhook-intake"]  # POST, and GET for eBay's challenge


@pytest.mark.parametrize(("endpoint", "method"), CASES, ids=[f"{m} {e.url}" for e, m in CASES])
def test_the_matrix(endpoint, method):
    rule = endpoint.rule()
    if rule == PUBLIC:
        return
    needed = required_for(rule, method)
    assert needed is not None

    anonymous = _call(_client(endpoint, "anonymous"), method, endpoint.url)
    if endpoint.api:
        assert anonymous.status_code in (401, 403), anonymous.content
    else:
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

    for role in ROLE_NAMES:
        granted = set(ROLES.get(role, []))
        allowed = set(needed) <= granted
        response = _call(_client(endpoint, role), method, endpoint.url)
        if allowed:
            assert response.status_code not in (401, 403), (role, response.status_code)
        else:
            assert response.status_code == 403, (role, response.status_code)
