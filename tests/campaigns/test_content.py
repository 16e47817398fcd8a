"""Content: personalisation from the marts, the recipient-safe score reason, and the LLM generator
against a local OpenAI-compatible stand-in, with its fallback to the template."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest

from growthlab.campaigns import pipeline
from growthlab.campaigns.content import SAMPLE_RECIPIENTS, build_context, reason_in_words
from tests.campaigns.conftest import write_simple_campaign

NOW = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


class ChatStandIn:
    """`POST /v1/chat/completions` answering from a script: a JSON email, a bad link, junk, 500, or too slow."""

    def __init__(self) -> None:
        self.script: deque[str] = deque()
        self.calls: list[dict] = []
        parent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parent.calls.append({"auth": self.headers.get("Authorization"), "body": body})
                mode = parent.script.popleft() if parent.script else "good"
                if mode == "slow":
                    time.sleep(1.5)
                if mode == "500":
                    self.send_response(500)
                    self.end_headers()
                    return
                facts = json.loads(body["messages"][1]["content"])
                draft = facts["draft"]
                content = {
                    "good": json.dumps(
                        {
                            "subject": "Rewritten: " + draft["subject"],
                            "body": "Hello from the model.\n\n" + draft["body"],
                        }
                    ),
                    "foreign_link": json.dumps({"subject": "x", "body": "Visit https://evil.example/now"}),
                    "junk": "Sure! Here is your email: Dear ...",
                    "slow": json.dumps({"subject": "late", "body": "late"}),
                }[mode]
                payload = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": content}}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_context_is_personalised_and_never_mentions_tracking():
    ctx = build_context(
        SAMPLE_RECIPIENTS[0],
        campaign={"id": "c", "name": "C"},
        sender={"from_name": "M"},
        links={"cta": "https://x.example"},
    )
    assert ctx["contact"]["first_name"] == "Ada" and ctx["company"]["name"] == "Nordwind Energie"
    assert ctx["company"]["segment_label"] == "wind"
    assert ctx["sustainability_hook"] == "Nordwind Energie has set science-based targets"
    assert ctx["score"]["reason_line"] == "Nordwind Energie sources 72% of its energy from renewables"
    reasons = [
        {"feature": "clicks_90d", "value": 3, "contribution": 0.9, "text": "clicked 3 emails"},
        {"feature": "emissions_intensity", "value": 210.0, "contribution": -0.2, "text": "high intensity"},
        {"feature": "has_b_corp", "value": 1, "contribution": 0.1, "text": "B Corp"},
    ]
    assert reason_in_words(reasons, {"company_name": "Acme"}) == "Acme is a certified B Corp"
    assert reason_in_words(reasons[:2], {"company_name": "Acme"}) is None
    sparse = build_context(SAMPLE_RECIPIENTS[1], campaign={}, sender={}, links={})
    assert sparse["company"]["name"] == "your company"
    assert sparse["sustainability_hook"] == "Your company is working on its energy transition"


@pytest.fixture
def chat():
    server = ChatStandIn()
    yield server
    server.close()


def test_llm_generator_rewrites_and_falls_back_to_the_template(
    world, campaign_dir, settings, chat, monkeypatch
):
    path = write_simple_campaign(campaign_dir)
    path.write_text(
        path.read_text().replace("consent: standard", "consent: standard\ncontent:\n  generator: llm")
    )
    monkeypatch.setenv("GROWTHLAB_LLM_BASE_URL", chat.url)
    monkeypatch.setenv("GROWTHLAB_LLM_API_KEY", "sk-test-secret")
    monkeypatch.setenv("GROWTHLAB_LLM_MODEL", "test-model")
    monkeypatch.setenv("GROWTHLAB_LLM_TIMEOUT_SECONDS", "0.5")
    ids = [world.contact() for _ in range(8)]
    chat.script.extend(["good", "foreign_link", "junk", "good", "500", "slow", "junk"])
    pipeline.load_campaigns(world.url, "test", campaign_dir)
    pipeline.plan(world.url, NOW, "test", campaign_dir)
    result = pipeline.generate(world.url, NOW, "test", settings.home, campaign_dir)
    assert result["ready"] == 8 and result["llm"] == 2 and result["fallbacks"] == 6
    with psycopg.connect(world.url) as conn:
        rows = conn.execute(
            "select contact_id, generator, generator_note, subject, body_text, variant_id from ops.outbox "
            "order by outbox_id"
        ).fetchall()
    assert [r[0] for r in rows] == ids
    by_generator = [r[1] for r in rows]
    assert by_generator == ["llm:test-model", "template", "template", "llm:test-model"] + ["template"] * 4
    notes = [r[2] for r in rows]
    assert notes[0] is None and notes[3] is None
    assert "links that are not the campaign's" in notes[1]
    assert "not a JSON object" in notes[2]
    assert "HTTP 500" in notes[4]
    assert notes[5].startswith("llm fallback: ")  # timed out
    assert "not a JSON object" in notes[6]
    # three failures in a row: the run stops calling the endpoint
    assert notes[7] == "llm skipped after 3 failures in a row" and len(chat.calls) == 7
    assert rows[0][3].startswith("Rewritten: ") and "Hello from the model." in rows[0][4]
    # the compliance footer is ours whoever wrote the body
    assert all("Unsubscribe: mailto:" in r[4] and "Torstrasse 49" in r[4] for r in rows)
    assert chat.calls[0]["auth"] == "Bearer sk-test-secret"
    assert chat.calls[0]["body"]["model"] == "test-model"
