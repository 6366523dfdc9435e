"""End-to-end tests for scripts/services.py (throwaway PostgreSQL + Redis for a command).

These start real servers, so they are marked slow. They work even when the test run itself
is wrapped in `services.py run`: the script starts its own, separate pair of servers.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "services.py"

pytestmark = pytest.mark.slow

CHECK = textwrap.dedent(
    """
    import os, psycopg, redis
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        assert conn.execute("select current_database()").fetchone()[0] == "inventory_hub"
        assert int(conn.execute("show max_connections").fetchone()[0]) >= 300
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    assert r.ping() and r.set("k", "v") and r.get("k") == b"v"
    for var in ("TEST_PG_BIN", "TEST_REDIS_SERVER", "TEST_SERVICES_DIR"):
        assert os.path.exists(os.environ[var]), var
    print("OK", os.environ["TEST_SERVICES_DIR"])
    """
)


def run_services(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "run", "--", *command],
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_run_provides_postgres_and_redis():
    result = run_services(sys.executable, "-c", CHECK)

    assert result.returncode == 0, result.stderr
    ok_lines = [line for line in result.stdout.splitlines() if line.startswith("OK ")]
    assert len(ok_lines) == 1, result.stdout
    services_dir = ok_lines[0].split(" ", 1)[1]
    assert Path(services_dir).name.startswith("inventory-hub-services-")
    assert not os.path.exists(services_dir), "temp dir should be removed afterwards"
    assert "[services] postgres stopped" in result.stderr
    assert "[services] redis stopped" in result.stderr


def test_failing_command_exit_code_propagates_and_cleans_up():
    result = run_services("sh", "-c", 'echo "$TEST_SERVICES_DIR"; exit 7')

    assert result.returncode == 7, result.stderr
    services_dir = result.stdout.strip()
    assert Path(services_dir).name.startswith("inventory-hub-services-")
    assert not os.path.exists(services_dir), "temp dir should be removed after a failure"
    assert "[services] postgres stopped" in result.stderr
