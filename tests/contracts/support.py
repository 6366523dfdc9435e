"""Loading the channels' own documents (see the package docstring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def document_bytes(kind: str, name: str) -> bytes:
    """A fixture file exactly as stored (webhook bodies are signed byte for byte)."""
    return (HERE / kind / name).read_bytes()


def document(kind: str, name: str) -> Any:
    """A JSON fixture, parsed."""
    return json.loads(document_bytes(kind, name))
