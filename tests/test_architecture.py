"""The import layers hold (import-linter's contracts in pyproject.toml), and a contract
broken on purpose is caught: `make test` fails the moment an arrow points up."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
SOURCES = [
    "ledger",
    "channels",
    "dashboard",
    "api",
    "simulator",
    "bench",
    "certify",
    "inventory_hub",
    "foundation",
]

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "templates", "migrations", "*.html")
    for name in SOURCES:
        shutil.copytree(ROOT / name, project / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    return project


def test_every_import_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("ledger/hooks.py", "import channels.models", "The ledger imports nothing above it"),
        (
            "ledger/services/stock.py",
            "from dashboard import selectors",
            "The ledger imports nothing above it",
        ),
        (
            "channels/services/channel.py",
            "from simulator.client import SimulatorClient",
            "Production code never imports the simulator",
        ),
        (
            "dashboard/views/stock.py",
            "from certify.models import CertifyRun",
            "Production code never imports the simulator",
        ),
        (
            "certify/report.py",
            "from dashboard import selectors",
            "Certify drives the simulator and the harness",
        ),
        (
            "channels/adapters/base.py",
            "from channels.models import Listing",
            "Webhook verification/parsing and the adapters import no models",
        ),
        (
            "channels/propagation/outbox.py",
            "from channels.intake import inbox",
            "Inside channels",
        ),
    ],
)
def test_an_arrow_that_points_up_breaks_the_build(tmp_path, module, line, contract):
    project = copy_of_the_project(tmp_path)
    path = project / module
    path.write_text(path.read_text() + f"\n\ndef _reach_up():\n    {line}\n")
    result = lint_imports(project)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout
