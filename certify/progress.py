"""Progress of a run: a bar per test on a terminal (`[#####.....] 12/50`), a quiet line
now and then otherwise, and the same numbers in the CertifyRun row the page polls."""

from __future__ import annotations

import time
from typing import Any, TextIO

WIDTH = 20


class Progress:
    def __init__(self, out: TextIO, *, tty: bool, run_pk: int | None = None) -> None:
        self.out, self.tty, self.run_pk = out, tty, run_pk
        self.tests: dict[str, dict[str, Any]] = {}
        self.current = ""
        self._saved = 0.0
        self._printed: dict[str, float] = {}

    # -- the tests -----------------------------------------------------------------------

    def plan(self, names: list[str]) -> None:
        for name in names:
            self.tests[name] = {"done": 0, "total": 0, "status": "waiting", "note": ""}
        self._save(force=True)

    def begin(self, name: str, total: int, note: str = "") -> None:
        self.current = name
        self.tests[name] = {"done": 0, "total": total, "status": "running", "note": note}
        if not self.tty:
            self.out.write(f"{name}: {note or 'started'}\n")
            self.out.flush()
        self._draw(force=True)

    def update(self, done: int, total: int | None = None, note: str | None = None) -> None:
        test = self.tests[self.current]
        test["done"] = done
        if total is not None:
            test["total"] = total
        if note is not None:
            test["note"] = note
        self._draw()

    def end(self, status: str, summary: str) -> None:
        test = self.tests[self.current]
        test.update(status=status, note=summary)
        if test["total"] and status != "skip":
            test["done"] = max(test["done"], 0)
        if self.tty:
            self.out.write("\r\033[K")
        self.out.write(f"{self.current:<10} {status.upper():<4}  {summary}\n")
        self.out.flush()
        self._save(force=True)

    def note(self, text: str) -> None:
        """A line of its own (setup, cleanup)."""
        if self.tty and self.current:
            self.out.write("\r\033[K")
        self.out.write(f"{text}\n")
        self.out.flush()

    # -- drawing and saving ----------------------------------------------------------------

    def bar(self, name: str) -> str:
        test = self.tests[name]
        done, total = test["done"], test["total"]
        filled = int(WIDTH * done / total) if total else 0
        return f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"

    def _draw(self, force: bool = False) -> None:
        name = self.current
        test = self.tests[name]
        now = time.monotonic()
        if self.tty:
            self.out.write(f"\r\033[K{name:<10} {self.bar(name)} {test['note']}"[:160])
            self.out.flush()
        elif force or now - self._printed.get(name, 0) >= 10:
            # Quiet: a line every 10 s at most.
            self._printed[name] = now
            self.out.write(f"{name}: {test['done']}/{test['total']} {test['note']}\n")
            self.out.flush()
        self._save(force)

    def _save(self, force: bool = False) -> None:
        if self.run_pk is None:
            return
        now = time.monotonic()
        if not force and now - self._saved < 0.5:
            return
        self._saved = now
        from .models import CertifyRun

        CertifyRun.objects.filter(pk=self.run_pk).update(progress=self.tests)
