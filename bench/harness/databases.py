"""Throwaway PostgreSQL databases: a benchmark never reads or writes the database named in
DATABASE_URL; it only uses that server to create databases of its own and drop them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .report import ROOT, BenchError, log

SETTINGS_MODULE = "inventory_hub.settings"
# OPTIONS keys Django's PostgreSQL backend understands itself; the rest are libpq parameters.
DJANGO_ONLY_OPTIONS = {"isolation_level", "server_side_binding", "assume_role", "pool"}


def require_postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise BenchError(
            "DATABASE_URL must point at PostgreSQL (got "
            f"{url.split('://')[0] + '://...' if url else 'nothing'}). Run the benchmarks "
            "through `make bench` or `python3 scripts/services.py run -- uv run python -m "
            "bench.<name>`, which start a throwaway PostgreSQL and Redis."
        )
    return url


def require_redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis"):
        raise BenchError(
            "REDIS_URL must point at Redis. Run the benchmarks through `make bench` or "
            "scripts/services.py, which start a throwaway PostgreSQL and Redis."
        )
    return url


def setup_django() -> None:
    """Set Django up against PostgreSQL, with nothing that would distort a measurement."""
    require_postgres_url()
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    # The benchmarks' channels are the simulator on loopback (and the processes a bench
    # starts inherit this environment).
    os.environ["CHANNEL_ALLOW_PRIVATE_NETWORKS"] = "1"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        raise BenchError(f"The default database is {connection.vendor}, not PostgreSQL.")
    # DEBUG keeps every query in memory (and costs time); eager Celery would run the drain
    # inline against a dead channel URL. Neither is how production runs.
    settings.DEBUG = False
    from inventory_hub.celery import app

    app.conf.task_always_eager = False


@contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """A database migrated from scratch for this run only (Django's test-database
    machinery, `bench_<label>_<pid>`), this process switched to it, dropped on the way out."""
    from django.db import connection, connections

    original = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"bench_{label}_{os.getpid()}"
    started = time.monotonic()
    name = connection.creation.create_test_db(
        verbosity=0, autoclobber=True, serialize=False, keepdb=False
    )
    log(f"created database {name} in {time.monotonic() - started:.1f}s")
    try:
        yield name
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(original, verbosity=0, keepdb=False)
        log(f"dropped database {name}")


class Databases:
    """Databases created through the server named by `admin_url` (which itself is only
    used to run CREATE/DROP DATABASE); drop_all() drops every one, newest first."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def url(self, name: str) -> str:
        return urlsplit(self.admin_url)._replace(path=f"/{name}").geturl()

    def _execute(self, statement) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)

    def create(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE name [TEMPLATE template]; returns its URL."""
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        self._execute(statement)
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        from psycopg import sql

        for name in reversed(self.created):
            try:
                self._execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
                log(f"dropped database {name}")
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                log(f"could not drop database {name}: {exc}")
        self.created.clear()


def migrate(url: str) -> None:
    """`manage.py migrate` against the database at `url`, in a subprocess."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE},
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise BenchError(f"migrate failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    log(f"migrated {urlsplit(url).path.lstrip('/')} in {time.monotonic() - started:.1f}s")


def use_database(name: str) -> None:
    """Point this process's Django connections at database `name`."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    settings.DATABASES["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name


def connection_params() -> dict[str, Any]:
    """libpq parameters of the database Django is connected to now."""
    from django.db import connection

    sd = connection.settings_dict
    params: dict[str, Any] = {
        key: value for key, value in sd["OPTIONS"].items() if key not in DJANGO_ONLY_OPTIONS
    }
    params["dbname"] = sd["NAME"]
    for key, param in (("USER", "user"), ("PASSWORD", "password"), ("HOST", "host")):
        if sd.get(key):
            params[param] = sd[key]
    if sd.get("PORT"):
        params["port"] = str(sd["PORT"])
    return params


def psycopg_connect():
    """A plain psycopg 3 connection (no Django) to the database Django is connected to."""
    import psycopg

    return psycopg.connect(autocommit=False, **connection_params())


def database_url() -> str:
    """DATABASE_URL of the database Django is connected to now (for subprocesses)."""
    from django.db import connection

    sd = connection.settings_dict
    user = quote(sd.get("USER") or "", safe="")
    password = quote(sd.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = sd.get("HOST") or ""
    port = f":{sd['PORT']}" if sd.get("PORT") else ""
    options = {
        key: value
        for key, value in (sd.get("OPTIONS") or {}).items()
        if key not in DJANGO_ONLY_OPTIONS and isinstance(value, str | int)
    }
    if host.startswith("/"):  # a unix-socket directory travels as ?host=
        options["host"], host = host, ""
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{auth}{quote(host, safe='')}{port}/{quote(sd['NAME'], safe='')}{query}"


def is_local() -> bool:
    """Whether Django's database server runs on this machine (its CPU can be read)."""
    from django.db import connection

    host = connection.settings_dict.get("HOST") or ""
    return host in ("", "127.0.0.1", "localhost", "::1") or host.startswith("/")
