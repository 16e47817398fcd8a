"""LinkedIn exports (read with pandas/csv, not the pipeline's parser), the outreach adapter, posting."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest

from growthlab.sandbox import store
from growthlab.sandbox.linkedin.exports import export_files, load_owners

REFERENCE = (
    Path(__file__).resolve().parents[1] / "reference" / "linkedin_export"
)  # copied from ../shared/reference
DATE_FORMATS = {
    "Connections.csv": ("Connected On", "%d %b %Y"),
    "Invitations.csv": ("Sent At", "%m/%d/%y, %I:%M %p"),
    "messages.csv": ("DATE", "%Y-%m-%d %H:%M:%S UTC"),
    "Positions.csv": ("Started On", "%b %Y"),
    "Shares.csv": ("Date", "%Y-%m-%d %H:%M:%S"),
}


def _archives(inbox: Path) -> dict[Path, dict[str, bytes]]:
    out = {}
    for path in sorted(inbox.iterdir()):
        if path.name.startswith("."):
            continue
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                out[path] = {name: zf.read(name) for name in zf.namelist()}
        else:
            out[path] = {p.name: p.read_bytes() for p in path.iterdir()}
    return out


def _frame(name: str, data: bytes) -> pd.DataFrame:
    text = data.decode("utf-8-sig")
    skip = 3 if name == "Connections.csv" else 0
    return pd.read_csv(io.StringIO(text), skiprows=skip, dtype=str, keep_default_na=False)


def _reference_header(name: str) -> list[str]:
    lines = (REFERENCE / name).read_text(encoding="utf-8-sig").splitlines()
    return next(csv.reader([lines[3 if name == "Connections.csv" else 0]]))


def test_every_rep_has_an_export_in_the_reference_layout(sandbox):
    archives = _archives(sandbox.linkedin_inbox)
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        owners = {f"{o.first_name} {o.last_name}": o for o in load_owners(conn)}
        contact_urls = {
            r[0].rstrip("/")
            for r in conn.execute("select linkedin_url from hubspot.contacts where linkedin_url is not null")
        }
    seen_owners, styles = set(), set()
    for path, files in archives.items():
        assert set(files) == {
            "Profile.csv",
            "Connections.csv",
            "Invitations.csv",
            "messages.csv",
            "Positions.csv",
            "Shares.csv",
        }
        profile = _frame("Profile.csv", files["Profile.csv"])
        name = f"{profile.loc[0, 'First Name']} {profile.loc[0, 'Last Name']}"
        seen_owners.add(name)
        raw = files["Connections.csv"]
        styles.add((path.suffix == ".zip", raw.startswith(b"\xef\xbb\xbf"), b"\r\n" in raw))
        assert raw.decode("utf-8-sig").startswith("Notes:")
        for filename, data in files.items():
            frame = _frame(filename, data)
            reference = _reference_header(filename)
            if filename == "messages.csv":
                assert list(frame.columns)[:10] == reference[:10]
                assert set(frame.columns) - set(reference) <= {"IS MESSAGE DRAFT"}
            else:
                assert list(frame.columns) == reference, filename
            if filename in DATE_FORMATS and len(frame):
                column, fmt = DATE_FORMATS[filename]
                values = frame[column][frame[column] != ""]
                parsed = pd.to_datetime(values, format=fmt)
                assert parsed.notna().all()
        connections = _frame("Connections.csv", files["Connections.csv"])
        urls = {u.rstrip("/") for u in connections["URL"] if u}
        assert urls & contact_urls, "a rep's connections include HubSpot contacts"
        assert urls - contact_urls, "... and people who are not in HubSpot"
        assert (connections["First Name"] == "").any() or len(
            connections
        ) < 60  # deactivated members, as exported
    assert seen_owners == set(owners)
    # Real exports vary: zip and folder, BOM or not, CRLF or LF.
    assert {s[0] for s in styles} == {True, False}
    assert {s[1] for s in styles} == {True, False}
    assert {s[2] for s in styles} == {True, False}


def _adapter(sandbox) -> httpx.Client:
    return httpx.Client(
        base_url=sandbox.linkedin_url, headers={"Authorization": f"Bearer {sandbox.linkedin_token}"}
    )


def _uninvited_contacts(sandbox, owner_id: int, n: int) -> list[str]:
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        return [
            r[0]
            for r in conn.execute(
                """select c.linkedin_url from hubspot.contacts c join world.contacts w on w.contact_id = c.id
                   where c.linkedin_url is not null and c.hubspot_owner_id = %s and w.converted_at is null
                     and not exists (select 1 from linkedin.invitations i where i.contact_id = c.id)
                   order by w.fit desc limit %s""",
                (owner_id, n),
            )
        ]


def test_invitations_are_queued_in_working_hours_and_answered_as_the_clock_moves(sandbox):
    api = _adapter(sandbox)
    assert httpx.get(f"{sandbox.linkedin_url}/v1/senders").status_code == 401
    sender = api.get("/v1/senders").json()["senders"][0]
    urls = _uninvited_contacts(sandbox, int(sender["sender"]), 30)
    ids = []
    for url in urls:
        r = api.post(
            "/v1/invitations",
            json={
                "sender": sender["sender"],
                "profile_url": url,
                "note": "Hi! Glad to connect.",
                "external_id": f"t-{uuid.uuid4().hex}",
            },
        )
        assert r.status_code == 202, r.text
        ids.append(r.json())
    again = api.post(
        "/v1/invitations",
        json={"sender": sender["sender"], "profile_url": urls[0], "external_id": ids[0]["external_id"]},
    )
    assert again.status_code == 200 and again.json()["id"] == ids[0]["id"]
    duplicate = api.post(
        "/v1/invitations", json={"sender": sender["sender"], "profile_url": urls[0], "external_id": "other"}
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "already_invited"
    zone = ZoneInfo(sender["timezone"])
    start, end = sender["working_hours"]["start"], sender["working_hours"]["end"]
    for inv in ids:
        local = datetime.fromisoformat(inv["scheduled_for"].replace("Z", "+00:00")).astimezone(zone)
        assert local.weekday() < 5 and start <= local.strftime("%H:%M") < end
    slots = sorted(inv["scheduled_for"] for inv in ids)
    assert len(set(slots)) == len(slots)  # spaced out, never all at once
    not_connected = api.post(
        "/v1/messages",
        json={"sender": sender["sender"], "profile_url": urls[0], "text": "Hi", "external_id": "m0"},
    )
    assert not_connected.status_code == 409 and not_connected.json()["error"] == "not_connected"
    after = api.get("/v1/events", params={"limit": 1000}).json()["next_after"]
    sandbox.advance(10)
    events = api.get("/v1/events", params={"after": after, "limit": 1000}).json()["events"]
    mine = {inv["external_id"] for inv in ids}
    sent = [e for e in events if e["type"] == "invitation_sent" and e["external_id"] in mine]
    accepted = [e for e in events if e["type"] == "invitation_accepted" and e["external_id"] in mine]
    assert len(sent) == len(ids)
    assert 3 <= len(accepted) < len(ids)
    # Message the new connections; some reply as the clock moves on.
    for event in accepted:
        r = api.post(
            "/v1/messages",
            json={
                "sender": sender["sender"],
                "profile_url": event["profile_url"],
                "text": "Thanks for connecting!",
                "angle": "case_study",
                "external_id": f"m-{event['external_id']}",
            },
        )
        assert r.status_code == 202, r.text
    after = api.get("/v1/events", params={"limit": 1000, "after": after}).json()["next_after"]
    sandbox.advance(5)
    later = api.get("/v1/events", params={"after": after, "limit": 1000}).json()["events"]
    assert sum(e["type"] == "message_sent" for e in later) == len(accepted)
    received = [e for e in later if e["type"] == "message_received"]
    assert all(e["external_id"].startswith("m-") and e["text"] for e in received)


def test_weekly_invitation_limit(sandbox_factory):
    sb = sandbox_factory(seed=5, size=60)
    api = _adapter(sb)
    sender = api.get("/v1/senders").json()["senders"][0]
    used = sender["usage"]["invitations_last_7_days"]
    statuses = []
    for i in range(101 - used):
        r = api.post(
            "/v1/invitations",
            json={
                "sender": sender["sender"],
                "profile_url": f"https://www.linkedin.com/in/prospect-{i}",
                "external_id": f"limit-{i}",
            },
        )
        statuses.append(r.status_code)
    assert statuses[:-1] == [202] * (100 - used)
    assert statuses[-1] == 429
    refused = r.json()
    assert refused["error"] == "weekly_invitation_limit" and refused["limit"] == 100
    assert int(r.headers["Retry-After"]) > 0


def test_share_on_linkedin(sandbox):
    api = _adapter(sandbox)
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        owner = load_owners(conn)[0]
    body = {
        "author": f"urn:li:person:{owner.owner_id}",
        "commentary": "We just published our CSRD guide for heat pump makers.\nLink below.",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }
    assert api.post("/rest/posts", json=body).status_code == 400  # no LinkedIn-Version header
    r = api.post(
        "/rest/posts", json=body, headers={"LinkedIn-Version": "202401", "X-Restli-Protocol-Version": "2.0.0"}
    )
    assert r.status_code == 201 and r.headers["x-restli-id"].startswith("urn:li:share:")
    stranger = api.post(
        "/rest/posts", json={**body, "author": "urn:li:person:1"}, headers={"LinkedIn-Version": "202401"}
    )
    assert stranger.status_code == 403
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        files = export_files(conn, owner, store.sim_now(conn))
    shares = _frame("Shares.csv", files["Shares.csv"])
    urn = r.headers["x-restli-id"].replace(":", "%3A")
    mine = shares[shares["ShareLink"].str.endswith(urn)]
    assert len(mine) == 1
    # Multi-line texts are quoted line by line, as LinkedIn exports them.
    assert (
        mine.iloc[0]["ShareCommentary"]
        == 'We just published our CSRD guide for heat pump makers."\n"Link below.'
    )


def test_new_exports_arrive_as_reps_reach_their_export_day(sandbox):
    before = set(p.name for p in sandbox.linkedin_inbox.iterdir())
    sandbox.advance(8)
    after = set(p.name for p in sandbox.linkedin_inbox.iterdir())
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        n_owners = len(load_owners(conn))
        clock = store.clock_now(conn)
    new = after - before
    assert len(new) >= n_owners  # every rep exported at least once in 8 days
    dates = {
        datetime.strptime(n.split("_")[2].removesuffix(".zip"), "%m-%d-%Y").replace(tzinfo=UTC) for n in new
    }
    assert all(d < clock for d in dates)


@pytest.fixture(autouse=True)
def _no_faults(sandbox):
    yield
    sandbox.clear_faults()
