"""The sandbox's servers in one process: stand-in HubSpot, SendGrid and LinkedIn adapter.

`SandboxServers` runs each app with uvicorn in its own thread on 127.0.0.1 (ports picked freely, or
the ones asked for), plus the SendGrid webhook delivery worker. `growthlab sandbox up` runs it in a
detached process (`python -m growthlab.sandbox.server`); the test fixture runs it in-process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from growthlab.sandbox import store
from growthlab.sandbox.web import DbPool, FaultConfig, FaultInjector, ServerThread

log = logging.getLogger(__name__)

SERVICES = ("hubspot", "sendgrid", "linkedin")


@dataclass(frozen=True)
class Endpoints:
    hubspot: str
    sendgrid: str
    linkedin: str

    def ports(self) -> dict[str, int]:
        return {k: int(getattr(self, k).rsplit(":", 1)[1]) for k in SERVICES}


class SandboxServers:
    def __init__(
        self,
        database_url: str,
        ports: dict[str, int] | None = None,
        *,
        rate_limits: bool = True,
        deliver_webhooks: bool = True,
    ) -> None:
        self.database_url = database_url
        self.ports = ports or {}
        self.rate_limits = rate_limits
        self.deliver_webhooks = deliver_webhooks
        self.threads: dict[str, ServerThread] = {}
        self.pool = DbPool(database_url, size=8)
        self.injectors: dict[str, FaultInjector] = {}
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> Endpoints:
        from growthlab.sandbox.hubspot.app import HubSpotState, RateLimits, build_app, tokens_from_secrets

        with store.open_db(self.database_url, autocommit=True) as conn:
            secrets = store.get_meta(conn, "secrets")
            if secrets is None:
                raise store.SandboxError("the sandbox database holds no world: run `growthlab sandbox up`")
            faults = store.get_meta(conn, "faults", {}) or {}
            limits = store.get_meta(conn, "rate_limits", {}) or {}
            malformed_id = conn.execute("select min(id) from hubspot.contacts").fetchone()[0]
        for service in SERVICES:
            self.injectors[service] = FaultInjector(FaultConfig.from_dict(faults.get(service)))
        rl = RateLimits.from_dict(limits)
        if not self.rate_limits:
            rl.enabled = False
        hubspot_state = HubSpotState(
            pool=self.pool,
            tokens=tokens_from_secrets(secrets),
            admin_token=secrets["admin_token"],
            faults=self.injectors["hubspot"],
            limits=rl,
            malformed_contact_id=malformed_id,
            on_faults_changed=lambda cfg: self._save_faults("hubspot", cfg),
        )
        apps = {"hubspot": build_app(hubspot_state)}
        apps.update(self._other_apps(secrets))
        for name, app in apps.items():
            thread = ServerThread(app, name, int(self.ports.get(name, 0)))
            thread.start()
            self.threads[name] = thread
        if self.deliver_webhooks and "sendgrid" in apps:
            self._worker = threading.Thread(target=self._deliver_loop, name="sandbox-webhooks", daemon=True)
            self._worker.start()
        return self.endpoints

    def _other_apps(self, secrets: dict) -> dict:
        from growthlab.sandbox.sendgrid.app import SendGridState
        from growthlab.sandbox.sendgrid.app import build_app as build_sendgrid

        sendgrid = build_sendgrid(
            SendGridState(
                pool=self.pool,
                api_key=secrets["sendgrid_api_key"],
                admin_token=secrets["admin_token"],
                faults=self.injectors["sendgrid"],
                on_faults_changed=lambda cfg: self._save_faults("sendgrid", cfg),
            )
        )
        from growthlab.sandbox.linkedin.adapter import LinkedInState
        from growthlab.sandbox.linkedin.adapter import build_app as build_linkedin

        linkedin = build_linkedin(
            LinkedInState(
                pool=self.pool,
                token=secrets["linkedin_token"],
                admin_token=secrets["admin_token"],
                faults=self.injectors["linkedin"],
            )
        )
        return {"sendgrid": sendgrid, "linkedin": linkedin}

    @property
    def endpoints(self) -> Endpoints:
        urls = {k: t.url for k, t in self.threads.items()}
        return Endpoints(**{k: urls.get(k, "") for k in SERVICES})

    def _save_faults(self, service: str, config: dict) -> None:
        with store.open_db(self.database_url, autocommit=True) as conn:
            faults = store.get_meta(conn, "faults", {}) or {}
            faults[service] = config
            store.set_meta(conn, "faults", faults)

    def set_faults(self, service: str, config: dict) -> None:
        cfg = FaultConfig.from_dict(config)
        self.injectors[service].configure(cfg)
        self._save_faults(service, cfg.as_dict())

    def _deliver_loop(self) -> None:
        """Batch and deliver webhook events every second; failed batches back off and retry."""
        from growthlab.sandbox.sendgrid.webhook import batch_pending, deliver_due, get_settings

        conn = None
        while not self._stop.wait(1.0):
            try:
                if conn is None or conn.closed:
                    conn = store.open_db(self.database_url, autocommit=True)
                batch_pending(conn, get_settings(conn))
                deliver_due(conn)
            except Exception as exc:  # keep the worker alive; the next round retries
                log.warning("webhook delivery round failed: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads.values():
            thread.stop()
        if self._worker is not None:
            self._worker.join(10)
        self.pool.close()


def main() -> int:
    """Entry of the detached server process started by `growthlab sandbox up`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = os.environ.get(store.DATABASE_URL_ENV)
    state_path = Path(os.environ["GROWTHLAB_SANDBOX_STATE"])
    if not url:
        log.error("%s is not set", store.DATABASE_URL_ENV)
        return 2
    ports = json.loads(os.environ.get("GROWTHLAB_SANDBOX_PORTS", "{}") or "{}")
    servers = SandboxServers(url, ports)
    endpoints = servers.start()
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "ports": endpoints.ports()}))
    os.replace(tmp, state_path)
    log.info("sandbox servers up: %s", endpoints)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    log.info("sandbox servers stopping")
    servers.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
