"""Subprocesses of a benchmark: started in sessions of their own, stopped with their whole
process group, logging to files whose tail ends up in the error when one dies."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .report import ROOT, BenchError, log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


class Processes:
    """Subprocesses in sessions of their own; stop() ends each whole process group."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_path: Path) -> Proc:
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        log(f"started {name} (pid {popen.pid}), log {log_path}")
        return proc

    def check(self) -> None:
        """BenchError with the log's tail if any of them has exited."""
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise BenchError(
                    f"{proc.name} exited with {proc.popen.returncode}:\n{tail(proc.log)}"
                )

    def stop(self, procs: list[Proc] | None = None, timeout: float = 20.0) -> None:
        targets = list(self.procs if procs is None else procs)
        for proc in targets:
            # The main process only: it stops its children itself (a warm shutdown).
            with contextlib.suppress(ProcessLookupError):
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in targets:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{proc.name} did not stop in {timeout:g}s: killing its group")
                _signal_group(proc, signal.SIGKILL)
                proc.popen.wait()
            # Children (gunicorn workers, Celery pool processes) share the group.
            _signal_group(proc, signal.SIGKILL)
        self.procs = [p for p in self.procs if p not in targets]


def _signal_group(proc: Proc, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.popen.pid, sig)


def wait_for(
    what: str, check: Callable[[], object], procs: Processes, timeout: float = 90.0
) -> None:
    """Until check() returns something true without raising; BenchError after `timeout`
    or as soon as one of `procs` exits."""
    deadline = time.monotonic() + timeout
    while True:
        procs.check()
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} did not come up within {timeout:g}s")
        time.sleep(0.1)


def wait_http(what: str, url: str, procs: Processes, timeout: float = 90.0) -> None:
    """Until GET url answers at all (any status)."""
    import httpx

    wait_for(what, lambda: httpx.get(url, timeout=5) is not None, procs, timeout)


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float  # user + system of the process and the children it waited for


def run_measured(cmd: list[str], *, timeout: float) -> Finished:
    """Run a command to its end and return its output and the CPU it used (from wait4's
    resource usage: exact, however short-lived the process)."""
    popen = subprocess.Popen(
        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = _read_all(popen, timeout)
    except subprocess.TimeoutExpired:
        _signal_group(Proc(cmd[0], popen, Path()), signal.SIGKILL)
        popen.communicate()
        raise BenchError(f"{cmd[0]} did not finish within {timeout:g}s") from None
    _, status, usage = os.wait4(popen.pid, 0)
    popen.returncode = os.waitstatus_to_exitcode(status)
    return Finished(popen.returncode, out, err, usage.ru_utime + usage.ru_stime)


def _read_all(popen: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """communicate() without reaping the child, so that wait4 can still read its usage."""
    import threading

    chunks: dict[str, str] = {}

    def drain(name: str, stream) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", popen.stdout), daemon=True),
        threading.Thread(target=drain, args=("err", popen.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
        if reader.is_alive():
            raise subprocess.TimeoutExpired(popen.args, timeout)
    return chunks.get("out", ""), chunks.get("err", "")
