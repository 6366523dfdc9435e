"""The API against its own OpenAPI schema: schemathesis generates valid and invalid
requests for every operation and checks every answer (no 500, a documented status code,
content type and body, authentication not ignored...): `schemathesis run --checks all`,
in-process, against the suite's PostgreSQL, bounded to a couple of minutes."""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from tests.factories import role_user

# Slow (about a minute and a half on two cores): `make test` runs it, `make test-fast` not.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]


class ProjectApp:
    """The project's WSGI application, made on the first request: by then the suite's
    settings are in place (plain HTTP), and middleware reads them once."""

    app = None

    def __call__(self, environ, start_response):
        if self.app is None:
            self.app = get_wsgi_application()
        return self.app(environ, start_response)


# Every check of `schemathesis run --checks all`, as configured by default, except one
# widening: a schema-valid request may still be a 400 where the rule is the service's and
# no schema can say it (a code already taken, a receipt's quantity positive while an
# adjustment's is signed, a CSV's header row).
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429"]
            }
        }
    }
)
# The schema /api/schema/ serves, made in-process and read as JSON like a client reads it.
schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True))),
    config=CONFIG,
)
# Every request goes to the application, including the ones checks send again (without
# the token, with another method).
schema.app = ProjectApp()


@pytest.fixture
def token_headers(db) -> dict[str, str]:
    token, _ = Token.objects.get_or_create(user=role_user("Admin"))
    return {"Authorization": f"Token {token.key}"}


@pytest.fixture(autouse=True)
def one_connection():
    """Like Django's test client, keep the database connection between requests: the
    test's transaction lives on it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    # 25 examples per operation and generation mode (valid and invalid data) keep the
    # run near a minute and a half; derandomize: every run tries the same examples, so
    # a failure reproduces.
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api(case, token_headers):
    """As the Admin role (every operation allowed); checks that matter without the
    token (ignored_auth) send the request again without it."""
    case.call_and_validate(headers=token_headers)
