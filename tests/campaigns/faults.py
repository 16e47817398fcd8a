"""A SendGrid endpoint that misbehaves on purpose, for the failure modes the sandbox does not stage.

It speaks just enough of `POST /v3/mail/send` for the real `sendgrid` client: it records every
request body, and answers each one from a script (`202`, an HTTP error, a hang past the client's
timeout, or a dropped connection after reading the request).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg


class FaultySendGrid:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (x_message_id, body)
        self.script: deque[str | int] = deque()  # "accept", "hang", "drop" or an HTTP status
        self.delay = 0.0  # seconds before answering (widens the windows a random kill can hit)
        self.first_seen: dict[str, datetime] = {}  # x_message_id -> simulated time its events start
        self.emitted: set[str] = set()
        parent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parent.requests.append(body)
                if parent.delay:
                    time.sleep(parent.delay)
                action = parent.script.popleft() if parent.script else "accept"
                if action == "hang":
                    parent.accepted.append((f"hang-{uuid.uuid4().hex[:8]}", body))  # it was accepted...
                    time.sleep(3)  # ...but the answer comes too late
                    return
                if action == "drop":
                    parent.accepted.append((f"drop-{uuid.uuid4().hex[:8]}", body))
                    self.connection.close()
                    return
                if action == "accept":
                    xid = uuid.uuid4().hex[:22]
                    parent.accepted.append((xid, body))
                    self.send_response(202)
                    self.send_header("X-Message-Id", xid)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps({"errors": [{"message": f"scripted {action}"}]}).encode()
                self.send_response(int(action))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def emit_events(self, url: str, now: datetime) -> int:
        """SendGrid's Event Webhook as the receiver and the sendgrid_events load would land it in
        raw_sendgrid.events (the contract's columns): for every accepted personalization a
        `processed` event when it was first seen, `delivered` two minutes later, and for every third
        recipient an `open` six hours later. Idempotent (sg_event_id)."""
        rows = []
        for xid, body in self.accepted:
            seen = self.first_seen.setdefault(xid, now)
            for i, p in enumerate(body["personalizations"]):
                args = {**body.get("custom_args", {}), **p["custom_args"]}
                email = p["to"][0]["email"]
                kinds = [("processed", seen), ("delivered", seen + timedelta(minutes=2))]
                if i % 3 == 0:
                    kinds.append(("open", seen + timedelta(hours=6)))
                for event, at in kinds:
                    if at > now or f"{xid}-{i}-{event}" in self.emitted:
                        continue
                    self.emitted.add(f"{xid}-{i}-{event}")
                    payload = {
                        "event": event,
                        "email": email,
                        "sg_message_id": f"{xid}.filter0001.{i}",
                        **args,
                    }
                    rows.append(
                        (
                            f"{xid}-{i}-{event}",
                            event,
                            email,
                            at,
                            f"{xid}.filter0001.{i}",
                            args["gl_campaign"],
                            args["gl_step"],
                            args["gl_variant"],
                            args["gl_angle"],
                            args["gl_contact_id"],
                            args["gl_outbox_id"],
                            json.dumps(payload),
                        )
                    )
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.executemany(
                """
                insert into raw_sendgrid.events (sg_event_id, event, email, event_at, sg_message_id, gl_campaign,
                    gl_step, gl_variant, gl_angle, gl_contact_id, gl_outbox_id, payload, received_at, _synced_at,
                    _batch_id)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now(), 'faults')
                on conflict do nothing
                """,
                rows,
            )
        return len(rows)

    def recipients(self) -> list[str]:
        return [
            p["custom_args"]["gl_outbox_id"] for _, body in self.accepted for p in body["personalizations"]
        ]
