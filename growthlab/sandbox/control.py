"""`growthlab sandbox up|down|status`: the world in the database, the servers in a detached process.

Files under $GROWTHLAB_HOME:

* `sandbox.json` (0600): URLs and tokens of the servers, read by growthlab/airflow_env.py;
* `sandbox/server.json`: pid and ports of the server process (ports are reused on restart, so
  Airflow connections stay valid);
* `logs/sandbox.log`: the server process's log;
* `linkedin_inbox/` (GROWTHLAB_LINKEDIN_INBOX): where the reps' exports land.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from growthlab.config import Settings
from growthlab.sandbox import store
from growthlab.sandbox.server import SERVICES, Endpoints
from growthlab.sandbox.web import parse_fault_spec

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def sandbox_json(self) -> Path:
        return self.home / "sandbox.json"

    @property
    def server_state(self) -> Path:
        return self.home / "sandbox" / "server.json"

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "sandbox.log"

    @property
    def inbox(self) -> Path:
        configured = os.environ.get("GROWTHLAB_LINKEDIN_INBOX", "").strip()
        return Path(configured).expanduser().resolve() if configured else self.home / "linkedin_inbox"


def sandbox_document(database_url: str, endpoints: Endpoints, inbox: Path) -> dict:
    """The content of $GROWTHLAB_HOME/sandbox.json (read by growthlab/airflow_env.py)."""
    with store.open_db(database_url, autocommit=True) as conn:
        world = store.get_meta(conn, "world")
        secrets = store.get_meta(conn, "secrets")
        signing = store.get_meta(conn, "sendgrid_signing")
        today = store.clock_now(conn).date().isoformat()
    return {
        "seed": world["seed"],
        "size": world["size"],
        "today": today,
        "hubspot": {
            "url": endpoints.hubspot,
            "token": secrets["hubspot_token"],
            "readonly_token": secrets["hubspot_readonly_token"],
        },
        "sendgrid": {
            "url": endpoints.sendgrid,
            "api_key": secrets["sendgrid_api_key"],
            "webhook_public_key": signing["public_key"],
        },
        "linkedin": {
            "inbox": str(inbox),
            "adapter_url": endpoints.linkedin,
            "token": secrets["linkedin_token"],
        },
        "database_url_env": store.DATABASE_URL_ENV,
    }


def write_sandbox_json(path: Path, database_url: str, endpoints: Endpoints, inbox: Path) -> dict:
    """Write sandbox.json (mode 0600: it holds tokens) atomically."""
    doc = sandbox_document(database_url, endpoints, inbox)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2)
    os.replace(tmp, path)
    return doc


# ---- the server process ----------------------------------------------------------------------
def _read_state(paths: Paths) -> dict | None:
    try:
        return json.loads(paths.server_state.read_text())
    except (OSError, ValueError):
        return None


def _is_our_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"growthlab.sandbox.server" in cmdline


def running_endpoints(paths: Paths) -> tuple[int, Endpoints] | None:
    """(pid, endpoints) of a live, healthy server process, else None."""
    state = _read_state(paths)
    if not state or not _is_our_process(int(state.get("pid", 0))):
        return None
    ports = state.get("ports", {})
    endpoints = Endpoints(**{s: f"http://127.0.0.1:{ports.get(s)}" for s in SERVICES})
    try:
        if httpx.get(f"{endpoints.hubspot}/__sandbox__/health", timeout=3).status_code != 200:
            return None
    except httpx.HTTPError:
        return None
    return int(state["pid"]), endpoints


def _requested_ports(paths: Paths) -> dict[str, int]:
    """Ports to bind: GROWTHLAB_SANDBOX_<SERVICE>_PORT, else the last ones used, else free ones."""
    previous = (_read_state(paths) or {}).get("ports", {})
    ports = {}
    for service in SERVICES:
        raw = os.environ.get(f"GROWTHLAB_SANDBOX_{service.upper()}_PORT", "").strip()
        ports[service] = int(raw) if raw else int(previous.get(service, 0) or 0)
    return ports


def start_server(paths: Paths, database_url: str) -> tuple[int, Endpoints]:
    paths.log_file.parent.mkdir(parents=True, exist_ok=True)
    paths.server_state.parent.mkdir(parents=True, exist_ok=True)
    ports = _requested_ports(paths)
    paths.server_state.unlink(missing_ok=True)
    env = {
        **os.environ,
        store.DATABASE_URL_ENV: database_url,
        "GROWTHLAB_SANDBOX_STATE": str(paths.server_state),
        "GROWTHLAB_SANDBOX_PORTS": json.dumps(ports),
    }
    with open(paths.log_file, "ab") as log_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "growthlab.sandbox.server"],
            env=env,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise store.SandboxError(
                f"the sandbox servers exited while starting (code {proc.returncode}); see {paths.log_file}"
            )
        found = running_endpoints(paths)
        if found is not None:
            return found
        time.sleep(0.2)
    proc.terminate()
    raise store.SandboxError(
        f"the sandbox servers did not start within {START_TIMEOUT_S:.0f}s; see {paths.log_file}"
    )


def stop_server(paths: Paths) -> bool:
    state = _read_state(paths)
    pid = int((state or {}).get("pid", 0))
    stopped = False
    if pid and _is_our_process(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _is_our_process(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _is_our_process(pid):
            os.kill(pid, signal.SIGKILL)
        stopped = True
    paths.server_state.unlink(missing_ok=True)
    paths.sandbox_json.unlink(missing_ok=True)
    return stopped


# ---- commands --------------------------------------------------------------------------------
def up(
    settings: Settings,
    *,
    seed: int | None = None,
    size: str | None = None,
    faults: str | None = None,
    fresh: bool = False,
    say=print,
) -> dict:
    """Generate the world if needed, start the servers if needed, write sandbox.json. Idempotent."""
    from growthlab.sandbox.generate import generate_world, world_spec
    from growthlab.sandbox.linkedin.exports import write_initial_exports

    paths = Paths(settings.home)
    url = store.sandbox_url(settings)
    store.ensure_database(url)
    spec = world_spec(seed if seed is not None else settings.sandbox_seed, size or settings.sandbox_size)
    with store.open_db(url, autocommit=True) as conn:
        current = store.get_meta(conn, "world") if store.has_world(conn) else None
        stale = current is None and conn.execute("select to_regclass('world.meta') is not null").fetchone()[0]
    same = current is not None and current["seed"] == spec.seed and current["size"] == spec.size.label
    if fresh or not same:
        if running_endpoints(paths) is not None:
            say("stopping the sandbox servers to replace the world")
            stop_server(paths)
        reason = (
            "--fresh"
            if fresh and same
            else (
                "no world yet"
                if current is None
                else f"world was seed {current['seed']} size {current['size']}"
            )
        )
        say(
            f"generating the {spec.size.label} world (seed {spec.seed}, {spec.size.contacts:,} contacts; {reason})"
        )
        counts = generate_world(url, spec, progress=lambda m: say(f"  {m}"))
        say(f"  generated in {counts['seconds']}s")
        for stale in paths.inbox.glob("Complete_LinkedInDataExport_*") if paths.inbox.exists() else []:
            _remove(stale)
    if faults is not None:
        apply_faults(settings, faults)
    found = running_endpoints(paths)
    if found is None:
        pid, endpoints = start_server(paths, url)
        say(f"sandbox servers started (pid {pid}; log {paths.log_file})")
    else:
        pid, endpoints = found
        say(f"sandbox servers already running (pid {pid})")
    exports = write_initial_exports(url, paths.inbox)
    if exports:
        say(f"{len(exports)} LinkedIn export(s) dropped into {paths.inbox}")
    doc = write_sandbox_json(paths.sandbox_json, url, endpoints, paths.inbox)
    return {
        "pid": pid,
        "endpoints": endpoints.__dict__,
        "today": doc["today"],
        "seed": doc["seed"],
        "size": doc["size"],
    }


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def down(settings: Settings) -> bool:
    return stop_server(Paths(settings.home))


def status(settings: Settings) -> dict:
    paths = Paths(settings.home)
    found = running_endpoints(paths)
    out: dict = {"running": found is not None}
    if found is not None:
        out["pid"], endpoints = found
        out["endpoints"] = endpoints.__dict__
    try:
        url = store.sandbox_url(settings)
        with store.open_db(url, autocommit=True) as conn:
            if not store.has_world(conn):
                out["world"] = None
                return out
            out["world"] = store.get_meta(conn, "world")
            out["clock"] = store.clock_now(conn).isoformat()
            out["faults"] = store.get_meta(conn, "faults", {})
            out["counts"] = dict(
                zip(
                    (
                        "contacts",
                        "deals",
                        "mail_accepted_unprocessed",
                        "webhook_batches_pending",
                        "linkedin_actions_queued",
                    ),
                    conn.execute(
                        """select (select count(*) from hubspot.contacts),
                                  (select count(*) from hubspot.deals),
                                  (select count(*) from sendgrid.messages where status = 'accepted'),
                                  (select count(*) from sendgrid.deliveries where delivered_at is null),
                                  (select count(*) from linkedin.invitations where status = 'queued')
                                  + (select count(*) from linkedin.messages where status = 'queued')"""
                    ).fetchone(),
                    strict=True,
                )
            )
            out["webhook"] = {
                k: v
                for k, v in (store.get_meta(conn, "sendgrid_webhook", {}) or {}).items()
                if k in ("url", "enabled", "signed")
            }
    except store.SandboxError as exc:
        out["error"] = str(exc)
    return out


def advance_world(settings: Settings, days: int) -> dict:
    from growthlab.sandbox.advance import advance

    paths = Paths(settings.home)
    url = store.sandbox_url(settings)
    summary = advance(url, days, inbox=paths.inbox)
    found = running_endpoints(paths)
    if found is not None:
        write_sandbox_json(paths.sandbox_json, url, found[1], paths.inbox)
    return summary


def apply_faults(settings: Settings, spec: str) -> dict:
    """Store fault settings (they survive restarts) and push them to running servers."""
    parsed = parse_fault_spec(spec)
    url = store.sandbox_url(settings)
    with store.open_db(url, autocommit=True) as conn:
        store.set_meta(conn, "faults", parsed)
        admin = store.get_meta(conn, "secrets")["admin_token"]
    found = running_endpoints(Paths(settings.home))
    if found is not None:
        _, endpoints = found
        for service in ("hubspot", "sendgrid"):
            httpx.put(
                f"{getattr(endpoints, service)}/__sandbox__/faults",
                json=parsed[service],
                headers={"Authorization": f"Bearer {admin}"},
                timeout=5,
            ).raise_for_status()
    return parsed
