#!/usr/bin/env python3
"""Throwaway PostgreSQL and Redis servers for tests and benchmarks (stdlib only).

    python3 scripts/services.py run [--no-redis] [--no-postgres] -- <command...>
    python3 scripts/services.py start --env-file PATH   # background; writes `export K=V` lines
    python3 scripts/services.py stop --env-file PATH

`run` starts the servers in a fresh temporary directory, runs the command with DATABASE_URL,
REDIS_URL, TEST_PG_BIN, TEST_REDIS_SERVER and TEST_SERVICES_DIR exported, then always stops
the servers and removes the directory. It exits with the command's exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PREFIX = "inventory-hub-services-"
DB_NAME = "inventory_hub"
PG_TOOLS = ("initdb", "pg_ctl", "postgres")
PG_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}
IS_ROOT = os.geteuid() == 0


class ServiceError(Exception):
    """A server could not be set up; the message is shown to the user."""


def log(msg: str) -> None:
    print(f"[services] {msg}", file=sys.stderr, flush=True)


# --- binaries -------------------------------------------------------------------------------


def find_pg_bin() -> Path | None:
    """Newest /usr/lib/postgresql/<ver>/bin with the server tools, else a `postgres` on PATH.

    Deliberately not `pg_ctl` on PATH: /usr/local/bin/pg_ctl may be an unrelated wrapper.
    """
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(n) for n in re.findall(r"\d+", Path(d).parent.name)],
        reverse=True,
    )
    which = shutil.which("postgres")
    candidates = [Path(d) for d in dirs] + ([Path(which).resolve().parent] if which else [])
    return next((d for d in candidates if all((d / t).is_file() for t in PG_TOOLS)), None)


def find_redis() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def ensure_binaries(
    need_pg: bool, need_redis: bool, may_install: bool = True
) -> tuple[Path | None, Path | None]:
    """Locate the server binaries, installing them with apt-get when we are root."""
    pg_bin = find_pg_bin() if need_pg else None
    redis = find_redis() if need_redis else None
    packages = (["postgresql"] if need_pg and not pg_bin else []) + (
        ["redis-server"] if need_redis and not redis else []
    )
    if not packages:
        return pg_bin, redis
    if not (may_install and IS_ROOT and shutil.which("apt-get")):
        where = {
            "postgresql": "/".join(PG_TOOLS) + " in /usr/lib/postgresql/<version>/bin",
            "redis-server": "redis-server on PATH",
        }
        log(
            f"missing {'; '.join(where[p] for p in packages)}. Install them, e.g.: "
            f"sudo apt-get install -y {' '.join(packages)}"
        )
        sys.exit(2)
    log(f"installing {' '.join(packages)} with apt-get (one-off, may take a minute)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            log(f"{' '.join(cmd)} failed:\n{(res.stdout + res.stderr)[-3000:]}")
            sys.exit(2)
    return ensure_binaries(need_pg, need_redis, may_install=False)


# --- helpers --------------------------------------------------------------------------------


def free_port() -> int:
    """A free port below the ephemeral range (32768+ on Linux): then the many client
    sockets a test run opens cannot take it before the server binds it."""
    for port in random.sample(range(20000, 32000), 50):
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_clash(logfile: Path) -> bool:
    """Did the server fail because another process took its port meanwhile?"""
    return "already in use" in tail(logfile, 5)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block is done, so a Popen() and the bookkeeping that
    follows it cannot be torn apart (which would orphan the new process)."""
    pending: list[int] = []
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            old[sig] = signal.signal(sig, lambda n, _f: pending.append(n))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in pending:
            signal.raise_signal(sig)  # now the normal handler runs (and may raise)


def as_pg_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root, so run its tools as the `postgres` system user."""
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def make_temp_dir() -> Path:
    parent = None
    if IS_ROOT:  # the postgres user must be able to traverse every ancestor
        path = Path(tempfile.gettempdir()).resolve()
        if any(not p.stat().st_mode & 0o001 for p in (path, *path.parents)):
            parent = "/tmp"
    tmp = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    tmp.chmod(0o711)
    return tmp


# --- PostgreSQL -----------------------------------------------------------------------------


def start_postgres(pg_bin: Path, tmp: Path, state: dict) -> None:
    """initdb + start a cluster under tmp/pg, wait for it, create the database.

    Fills `state` as it goes, so cleanup() can stop a half-started server.
    """
    pg_dir = tmp / "pg"  # owned by the server user; holds data dir, log and unix socket
    pg_dir.mkdir(mode=0o700)
    if IS_ROOT:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise ServiceError("running as root but there is no `postgres` system user") from None
        os.chown(pg_dir, user.pw_uid, user.pw_gid)
    data, logfile = pg_dir / "data", pg_dir / "server.log"
    state.update(pg_bin=str(pg_bin), pg_data=str(data))

    def run(cmd: list[str], what: str) -> None:
        proc = None
        try:
            with deferred_signals():
                proc = subprocess.Popen(
                    as_pg_user(cmd),
                    cwd=pg_dir,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    start_new_session=True,
                )
            out = proc.communicate()[0].strip()
        except BaseException:  # interrupted: stop the whole group (runuser forks initdb etc.)
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
            raise
        if proc.returncode != 0:
            raise ServiceError(f"{what} failed:\n{out}\n--- server log ---\n{tail(logfile)}")

    locale = ["--locale=C.UTF-8"] if Path("/usr/lib/locale/C.utf8").exists() else []
    flags = ["-A", "trust", "-U", "postgres", "--encoding", "UTF8", "--no-sync"]
    run([str(pg_bin / "initdb"), "-D", str(data), *flags, *locale], "initdb")
    settings = {**PG_SETTINGS, "unix_socket_directories": f"'{pg_dir}'"}
    with open(data / "postgresql.conf", "a") as conf:
        conf.write("\n# services.py (throwaway test cluster)\n")
        conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
    pg_ctl = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w", "-t", "30"]
    for attempt in range(3):
        port = state["pg_port"] = free_port()
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {port}\n")  # the last setting wins
        try:
            run([*pg_ctl, "start"], "pg_ctl start")
            break
        except ServiceError:
            if attempt == 2 or not port_clash(logfile):
                raise
            log(f"postgres: port {port} was taken, retrying")
    deadline = time.monotonic() + 30
    while not pg_ready(pg_bin, port):
        if time.monotonic() > deadline:
            raise ServiceError(f"PostgreSQL not accepting connections:\n{tail(logfile)}")
        time.sleep(0.2)
    conn = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    run([str(pg_bin / "createdb"), *conn, DB_NAME], "createdb")
    pid_line = (data / "postmaster.pid").read_text().split("\n", 1)[0]
    state["pg_pid"] = int(pid_line)
    log(f"postgres ready on 127.0.0.1:{port} (pid {pid_line}, {pg_bin})")


def stop_postgres(state: dict) -> None:
    data = Path(state["pg_data"])
    if not (data / "postmaster.pid").exists():
        return
    pg_ctl = str(Path(state["pg_bin"]) / "pg_ctl")
    for mode in ("fast", "immediate"):
        cmd = as_pg_user([pg_ctl, "stop", "-D", str(data), "-m", mode, "-w", "-t", "30"])
        if subprocess.run(cmd, cwd=data.parent, capture_output=True).returncode == 0:
            log("postgres stopped")
            return
    log("WARNING: could not stop postgres (see pg_ctl status)")


def pg_ready(pg_bin: Path, port: int) -> bool:
    """pg_isready from the same bin dir, or a plain TCP connect if it is missing."""
    if (pg_bin / "pg_isready").exists():
        cmd = [str(pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(cmd).returncode == 0
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# --- Redis ----------------------------------------------------------------------------------


def redis_cmd(port: int, *args: str) -> bytes:
    """Send one RESP command over a raw socket and return the first chunk of the reply."""
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(payload.encode())
        return s.recv(256)


def start_redis(redis: Path, tmp: Path, state: dict) -> None:
    logfile = tmp / "redis.log"
    for attempt in range(3):
        port = free_port()
        flags = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)]
        with open(logfile, "ab") as out, deferred_signals():  # own session: no terminal Ctrl-C
            proc = subprocess.Popen(
                [str(redis), "--port", str(port), *flags],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
            state.update(redis=str(redis), redis_port=port, redis_pid=proc.pid)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if redis_cmd(port, "PING").startswith(b"+PONG"):
                    log(f"redis ready on 127.0.0.1:{port} (pid {proc.pid})")
                    return
            time.sleep(0.1)
        if attempt == 2 or proc.poll() is None or not port_clash(logfile):
            raise ServiceError(f"redis-server did not start:\n{tail(logfile)}")
        log(f"redis: port {port} was taken, retrying")


def stop_redis(state: dict) -> None:
    """SHUTDOWN whatever listens on the port (tests may have restarted it), then kill our pid."""
    with contextlib.suppress(OSError):
        redis_cmd(state["redis_port"], "SHUTDOWN", "NOSAVE")
    pid = state["redis_pid"]
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig and alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            break
    log("redis stopped")


def alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (reaps it if it is our child)."""
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a container's PID 1 may never reap an orphan, so also check for zombies
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


# --- orchestration --------------------------------------------------------------------------


def start_all(args: argparse.Namespace, state: dict) -> dict[str, str]:
    """Start the requested servers and return the env vars for them.

    Progress is recorded in `state` as it happens, so cleanup(state) works at any point.
    """
    pg_bin, redis = ensure_binaries(not args.no_postgres, not args.no_redis)
    with deferred_signals():
        tmp = make_temp_dir()
        state["dir"] = str(tmp)
    env = {"TEST_SERVICES_DIR": str(tmp)}
    if pg_bin:
        start_postgres(pg_bin, tmp, state)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{state['pg_port']}/{DB_NAME}"
        env["TEST_PG_BIN"] = str(pg_bin)
    if redis:
        start_redis(redis, tmp, state)
        env["REDIS_URL"] = f"redis://127.0.0.1:{state['redis_port']}/0"
        env["TEST_REDIS_SERVER"] = str(redis)
    (tmp / "state.json").write_text(json.dumps(state))
    return env


def cleanup(state: dict) -> None:
    """Stop everything recorded in state and delete the temp dir. Not interruptible."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    if "pg_data" in state:
        stop_postgres(state)
    if "redis_pid" in state:
        stop_redis(state)
    tmp = state.get("dir")
    if not tmp:
        return
    for _ in range(10):  # retry: an interrupted initdb may still be writing into it
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.exists(tmp):
            return
        time.sleep(0.3)
    log(f"WARNING: could not remove {tmp}")


def in_tty_foreground() -> bool:
    """Whether we (and so the child) are the terminal's foreground process group."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def cmd_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        log("run: no command given (usage: services.py run -- <command...>)")
        return 2
    state: dict = {}
    child = None
    try:
        env = start_all(args, state)
        log(f"running: {shlex.join(command)}")
        try:
            with deferred_signals():
                child = subprocess.Popen(command, env={**os.environ, **env})
        except OSError as exc:
            log(f"cannot run command: {exc}")
            return 127

        def forward(signum: int, _frame: object) -> None:
            # A terminal Ctrl-C already reached the child (same foreground process group).
            if not (signum == signal.SIGINT and in_tty_foreground()):
                child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        rc = child.wait()
        return 128 - rc if rc < 0 else rc  # killed by signal N -> 128+N, like a shell
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        cleanup(state)


def cmd_start(args: argparse.Namespace) -> int:
    state: dict = {}
    try:
        env = start_all(args, state)
    except BaseException:
        cleanup(state)
        raise
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    Path(args.env_file).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    pids = {k: v for k, v in state.items() if k.endswith("_pid")}
    log(f"started in background {pids}; env written to {args.env_file}")
    log(f"stop with: python3 {sys.argv[0]} stop --env-file {args.env_file}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    env_file = Path(args.env_file)
    words = [w for line in env_file.read_text().splitlines() for w in shlex.split(line)]
    env = dict(w.split("=", 1) for w in words if "=" in w)
    tmp = Path(env.get("TEST_SERVICES_DIR", ""))
    if not tmp.name.startswith(PREFIX) or not (tmp / "state.json").is_file():
        log(f"{env_file}: no running services found (TEST_SERVICES_DIR={tmp})")
        return 1
    cleanup(json.loads((tmp / "state.json").read_text()))
    env_file.unlink()
    return 0


def on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwind through the cleanup code


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("run", "start"):
        p = sub.add_parser(name)
        p.add_argument("--no-postgres", action="store_true", help="don't start PostgreSQL")
        p.add_argument("--no-redis", action="store_true", help="don't start Redis")
        if name == "run":
            p.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run")
        else:
            p.add_argument("--env-file", required=True, help="where to write export lines")
    sub.add_parser("stop").add_argument("--env-file", required=True)
    args = parser.parse_args(argv)
    try:
        return {"run": cmd_run, "start": cmd_start, "stop": cmd_stop}[args.action](args)
    except ServiceError as exc:  # already cleaned up
        log(str(exc))
        return 1
    except KeyboardInterrupt:  # Ctrl-C while starting; already cleaned up
        return 130


if __name__ == "__main__":
    sys.exit(main())
