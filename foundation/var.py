"""The working directory under ./var (INVENTORY_HUB_VAR_DIR): the embedded database, the
file-system broker's folders, the kept secrets of the embedded default, mail files.

Importing the settings writes nothing: they only compute these paths and read what is
there. The processes that need the folders create them by calling `prepare()` first:
`manage.py`, the WSGI/ASGI entry points and the Celery app. A key that is neither in
the environment nor kept on disk yet (a test run, a process started before any command)
is made for this process only and handed to its children through the environment, so
a worker started by the same run reads what the run encrypted.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

logger = logging.getLogger("foundation.var")

BASE_DIR = Path(__file__).resolve().parent.parent

# Secrets of the embedded default: environment variable -> (file under var/, maker).
KEPT_SECRETS = {
    "SECRET_KEY": ("secret_key", lambda: secrets.token_urlsafe(64)),
    "FIELD_ENCRYPTION_KEY": ("field_encryption.key", lambda: Fernet.generate_key().decode()),
}
BROKER_FOLDERS = ("out", "processed", "control")


def var_dir() -> Path:
    return Path(os.environ.get("INVENTORY_HUB_VAR_DIR", BASE_DIR / "var"))


def broker_dir() -> Path:
    return var_dir() / "broker"


def static_root() -> Path:
    return Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))


def kept_secret(env_name: str) -> str:
    """The secret from the environment, else from its file under var/, else one made for
    this process and its children (nothing is written here; see `prepare`)."""
    value = os.environ.get(env_name)
    if value:
        return value
    file_name, make = KEPT_SECRETS[env_name]
    path = var_dir() / file_name
    if path.exists():
        return path.read_text().strip()
    value = make()
    os.environ[env_name] = value
    logger.warning(
        "%s is not set and %s does not exist: using a key made for this process only",
        env_name,
        path,
    )
    return value


def prepare() -> None:
    """Create what the processes of the embedded default need under var/ (idempotent,
    safe when several processes start at once)."""
    root = var_dir()
    root.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("REDIS_URL"):
        for folder in BROKER_FOLDERS:
            (broker_dir() / folder).mkdir(parents=True, exist_ok=True)
    # WhiteNoise warns about a missing root when collectstatic has not been run.
    static_root().mkdir(parents=True, exist_ok=True)
    for env_name, (file_name, make) in KEPT_SECRETS.items():
        if os.environ.get(env_name):
            continue
        path = root / file_name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # kept from an earlier start, or another process made it just now
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        logger.warning("%s is not set: generated one and kept it in %s", env_name, path)
