"""Where the machine's cores went: CPU seconds of process trees, read from /proc.

A process tree's CPU is the user + system time of its root and every live descendant,
plus what each of them has collected from children it already waited for (`cutime`,
`cstime`): a gunicorn worker or a PostgreSQL backend that exits between two samples moves
into its parent's figure instead of vanishing. Linux only; elsewhere the figures are empty.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_seconds(pid: int) -> float | None:
    """utime + stime + cutime + cstime of one process; None if it is gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    return sum(int(value) for value in fields[11:15]) / TICK


def parent_pid(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children[int(fields[1])].append(int(entry.name))
    return children


def tree_seconds(roots: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds used so far by each named process tree ({name: root pid}); a tree whose
    root is None or gone is left out. One pass over /proc serves every tree."""
    children = _children_map()
    used: dict[str, float] = {}
    for name, root in roots.items():
        if root is None:
            continue
        total, found, stack = 0.0, False, [root]
        while stack:
            pid = stack.pop()
            seconds = process_seconds(pid)
            if seconds is None:
                continue
            found = True
            total += seconds
            stack.extend(children.get(pid, ()))
        if found:
            used[name] = total
    return used


def own_seconds() -> float:
    """This process (all its threads), without its children."""
    me = os.times()
    return me.user + me.system


def delta(after: dict[str, float], before: dict[str, float], digits: int = 2) -> dict[str, float]:
    return {name: round(value - before.get(name, 0.0), digits) for name, value in after.items()}


def postgres_postmaster_pid(cursor) -> int | None:
    """The PostgreSQL server's main process, found through a backend of ours (its parent),
    when that server runs on this machine; None when it does not (or is not visible)."""
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
    postmaster = parent_pid(backend)
    if postmaster is None:
        return None
    try:
        comm = Path(f"/proc/{postmaster}/comm").read_text().strip()
    except OSError:
        return None
    return postmaster if comm.startswith("postgres") else None


def redis_server_pid(client) -> int | None:
    """The Redis server's pid (INFO server), when it runs on this machine."""
    try:
        pid = int(client.info("server")["process_id"])
    except Exception:  # noqa: BLE001 - a figure we can do without
        return None
    return pid if process_seconds(pid) is not None else None
