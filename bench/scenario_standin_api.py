"""Stand-in API throughput: requests per second through the real clients vs a raw httpx loop.

The sandbox servers run in their own process (as `growthlab sandbox up` runs them) on a fresh
world in its own database, with rate limits off (this measures the servers, not HubSpot's
limits). For each workload the same requests are made twice, sequentially over keep-alive
connections: through the production client (`hubspot-api-client`, `sendgrid`) and through a bare
`httpx.Client` loop (the baseline). `ratio` = client req/s / raw req/s: what the client's own
overhead costs on top of the server's.

Workloads: HubSpot contacts list pages (limit 100, 6 properties), HubSpot search (limit 100),
SendGrid mail send (one recipient). `--scale smoke`: tiny world, 40 requests per workload;
`--scale full`: small world, 400 per workload.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

SCALES = {"smoke": ("tiny", 40), "full": ("small", 400)}
PROPS = ["email", "firstname", "lastname", "lifecyclestage", "hubspot_owner_id", "createdate"]


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


def _timed(fn, n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        fn(i)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict:
    import httpx
    import psycopg
    from hubspot import HubSpot
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Mail

    from bench.scenario_world_generation import _server
    from growthlab.sandbox import store
    from growthlab.sandbox.control import Paths, start_server, stop_server
    from growthlab.sandbox.generate import generate_world, world_spec

    size, n = SCALES[args.scale]
    state = _server()
    name = f"bench_api_{uuid.uuid4().hex[:8]}"
    admin = state.url("postgres", "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}" owner growthlab')
    url = state.url(name)
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    paths = Paths(home)
    try:
        generate_world(url, world_spec(42, size))
        with store.open_db(url, autocommit=True) as conn:
            store.set_meta(conn, "rate_limits", {"enabled": False})
            secrets = store.get_meta(conn, "secrets")
            emails = [r[0] for r in conn.execute("select email from hubspot.contacts order by id limit 50")]
            ids = [r[0] for r in conn.execute("select id from hubspot.contacts order by id")]
        _, endpoints = start_server(paths, url)
        token, key = secrets["hubspot_token"], secrets["sendgrid_api_key"]
        hub = HubSpot(access_token=token, host=endpoints.hubspot)
        raw_hub = httpx.Client(
            base_url=endpoints.hubspot, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        sg = SendGridAPIClient(key, host=endpoints.sendgrid)
        raw_sg = httpx.Client(
            base_url=endpoints.sendgrid, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        afters = [str(ids[(i * 100) % max(1, len(ids) - 100)]) for i in range(n)]
        search_body = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["lead", "subscriber"]}
                    ]
                }
            ],
            "properties": PROPS,
            "limit": 100,
        }

        def mail(i: int) -> dict:
            return Mail(
                from_email="news@growthlab-energy.com",
                to_emails=emails[i % len(emails)],
                subject="Benchmark",
                html_content="<p>Hello</p>",
            ).get()

        workloads = {
            "hubspot_list_contacts": (
                lambda i: hub.crm.contacts.basic_api.get_page(limit=100, after=afters[i], properties=PROPS),
                lambda i: raw_hub.get(
                    "/crm/v3/objects/contacts",
                    params={"limit": 100, "after": afters[i], "properties": ",".join(PROPS)},
                ).raise_for_status(),
            ),
            "hubspot_search": (
                lambda i: hub.crm.contacts.search_api.do_search({**search_body, "after": str(i % 20 * 100)}),
                lambda i: raw_hub.post(
                    "/crm/v3/objects/contacts/search", json={**search_body, "after": str(i % 20 * 100)}
                ).raise_for_status(),
            ),
            "sendgrid_mail_send": (
                lambda i: sg.client.mail.send.post(request_body=mail(i)),
                lambda i: raw_sg.post("/v3/mail/send", json=mail(i)).raise_for_status(),
            ),
        }
        results = {}
        rounds = 4
        for name_, (client_fn, raw_fn) in workloads.items():
            client_fn(0)
            raw_fn(0)  # warm up both paths
            # Interleaved rounds, so drift in the machine's load hits both sides alike.
            raw_s = client_s = 0.0
            per_round = max(1, n // rounds)
            for _ in range(rounds):
                raw_s += _timed(raw_fn, per_round)
                client_s += _timed(client_fn, per_round)
            n_done = per_round * rounds
            results[name_] = {
                "requests": n_done,
                "client_rps": _rate(n_done, client_s),
                "raw_httpx_rps": _rate(n_done, raw_s),
                "ratio": round(raw_s / client_s, 3),
            }
        raw_hub.close()
        raw_sg.close()
        ratios = [r["ratio"] for r in results.values()]
        del name_
        return {
            "world": size,
            "workloads": results,
            "ratio": round(sum(ratios) / len(ratios), 3),
            "ratio_means": "client req/s / raw httpx req/s (mean over workloads); 1.0 = the client adds nothing",
        }
    finally:
        stop_server(paths)
        if not os.environ.get("GROWTHLAB_BENCH_KEEP"):
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="smoke", choices=["smoke", "full"])
    print(json.dumps(run(parser.parse_args())))
