"""LinkedIn inbox -> raw_linkedin on a real Postgres with the GX audit: counts, idempotency,
overlapping exports, quarantine, systemic failures and contact matching."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from psycopg.types.json import Jsonb

from growthlab.sources.linkedin_ingest import LinkedInIngestError, ingest_inbox
from growthlab.warehouse.db import connect
from tests.ingestion.test_linkedin_export import as_real_export, reference_files, write_export

AS_OF = datetime(2026, 8, 31, tzinfo=UTC)
TABLES = ("profiles", "connections", "invitations", "messages", "positions", "shares")


def counts(url) -> dict[str, int]:
    with connect(url) as conn:
        return {t: conn.execute(f"select count(*) from raw_linkedin.{t}").fetchone()[0] for t in TABLES}


def ledger_balanced(url) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(
            """select object, rows_in, rows_loaded, rows_quarantined from ops.ingest_batches
               where source = 'linkedin' and status = 'succeeded' and object <> 'contact_matches'
               and rows_in <> rows_loaded + rows_quarantined"""
        ).fetchall()


def test_inbox_ingests_once_and_overlapping_exports_add_only_new_rows(fresh_db, tmp_path):
    inbox = tmp_path / "inbox"
    files = {k: as_real_export(v) for k, v in reference_files().items()}
    write_export(inbox, files, as_zip=True, name="ben-2026-08")
    first = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert first.processed == ["ben-2026-08.zip"]
    assert counts(fresh_db) == {
        "profiles": 1, "connections": 3, "invitations": 3, "messages": 2, "positions": 2, "shares": 2,
    }  # fmt: skip
    assert (inbox / "processed" / "ben-2026-08.zip").is_file() and not (inbox / "ben-2026-08.zip").exists()
    with connect(fresh_db) as conn:
        q = conn.execute("select rule, row_ref, payload->'fields' from quarantine.rows").fetchall()
        assert q == [("connection.no_identity", "ben-2026-08.zip/Basic_LinkedInDataExport/Connections.csv:7",
                      ["", "", "", "", "", "", "30 Apr 2024"])]  # fmt: skip
        synced = conn.execute("select max(_synced_at) from raw_linkedin.connections").fetchone()[0]

    # The same export again, under another name: recognised by content, nothing changes.
    shutil.copy(inbox / "processed" / "ben-2026-08.zip", inbox / "copy-of-ben.zip")
    again = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert again.skipped == ["copy-of-ben.zip"] and again.processed == []

    # A later, overlapping export (one more connection, one changed position title) adds one row.
    files2 = dict(files)
    files2["Connections.csv"] += (
        b"Dan,Other,https://www.linkedin.com/in/dan-other,,Other GmbH,CTO,01 Aug 2026\r\n"
    )
    files2["Positions.csv"] = files2["Positions.csv"].replace(
        b"Marketing Manager", b"Senior Marketing Manager"
    )
    write_export(inbox, files2, name="ben-2026-09")
    later = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert later.processed == ["ben-2026-09"]
    assert later.tables["connections"] == {"rows_in": 5, "rows_loaded": 4, "rows_quarantined": 1}
    assert counts(fresh_db)["connections"] == 4
    assert counts(fresh_db)["positions"] == 3  # a changed title is another position (natural key)
    with connect(fresh_db) as conn:
        assert conn.execute("select count(*) from quarantine.rows").fetchone()[0] == 2  # one per archive line
        unchanged = conn.execute(
            "select count(*) from raw_linkedin.connections where _synced_at = %s", (synced,)
        ).fetchone()[0]
        assert unchanged == 3, "rows the new export repeats are not rewritten"
    assert ledger_balanced(fresh_db) == []


def test_bad_rows_go_to_quarantine_and_systemic_failures_publish_nothing(fresh_db, tmp_path):
    inbox = tmp_path / "inbox"
    files = reference_files()
    # one invitation with an unknown direction: a row-level GX failure among many good rows
    good = b"".join(
        f'P{i},Ben Sample,"9/{1 + i % 28}/25, 8:41 AM",,INCOMING,,https://www.linkedin.com/in/ben-sample\n'.encode()
        for i in range(40)
    )
    files["Invitations.csv"] += good + b'Eve,Ben Sample,"9/2/25, 8:41 AM",,SIDEWAYS,,\n'
    write_export(inbox, files, name="a")
    result = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert result.tables["invitations"] == {"rows_in": 44, "rows_loaded": 43, "rows_quarantined": 1}
    with connect(fresh_db) as conn:
        rule, ref = conn.execute(
            "select rule, row_ref from quarantine.rows where table_name = 'raw_linkedin.invitations'"
        ).fetchone()
        assert rule == "direction_enum" and ref.endswith("Invitations.csv:45")
        assert conn.execute(
            "select count(*) from raw_linkedin.invitations where direction = 'SIDEWAYS'"
        ).fetchone() == (0,)
        dq = conn.execute(
            """select success, unexpected_count from ops.validation_results
               where table_name = 'raw_linkedin.invitations' and rule = 'direction_enum'"""
        ).fetchone()
        assert dq == (False, 1)

    # Half the messages dated in the future: systemic, the task fails naming table and rule,
    # and raw_linkedin.messages is untouched.
    files3 = reference_files()
    files3["Profile.csv"] = files3["Profile.csv"].replace(b"Ben,Sample", b"Ann,Other")
    files3["messages.csv"] += b"".join(
        f"c9,,Ann Other,,Dan,,2031-01-0{i} 10:00:00 UTC,,from the future,INBOX,\n".encode()
        for i in range(1, 5)
    )
    write_export(inbox, files3, name="b")
    before = counts(fresh_db)["messages"]
    with pytest.raises(LinkedInIngestError, match=r"raw_linkedin\.messages: rule sent_at_in_range"):
        ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert counts(fresh_db)["messages"] == before
    assert (inbox / "b").is_dir(), "a failed archive stays in the inbox"
    with connect(fresh_db) as conn:
        status, error = conn.execute(
            "select status, error from ops.ingest_batches where object = 'messages' order by started_at desc limit 1"
        ).fetchone()
        assert status == "failed" and "sent_at_in_range" in error


def test_an_unreadable_archive_fails_the_run_after_the_others_are_in(fresh_db, tmp_path):
    inbox = tmp_path / "inbox"
    broken = reference_files()
    broken["Shares.csv"] += b'2025-01-01 00:00:00,x,"never closed\n'
    write_export(inbox, broken, name="0-broken")
    write_export(inbox, reference_files(), name="1-good")
    with pytest.raises(LinkedInIngestError, match=r"0-broken/Shares.csv, line 6: unreadable CSV"):
        ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert counts(fresh_db)["connections"] == 3
    assert (inbox / "0-broken").is_dir() and (inbox / "processed" / "1-good").is_dir()


def test_connections_match_contacts_by_email_then_name_and_company(fresh_db, tmp_path):
    with connect(fresh_db) as conn:
        for cid, props in {
            "101": {"email": "BEN.SAMPLE@example.com", "firstname": "Someone", "lastname": "Else", "company": "X"},
            "102": {"email": "ada@elsewhere.example", "firstname": "Ada", "lastname": "Example",
                    "company": "Example Analytics"},
            "103": {"email": "c1@test.example", "firstname": "Chloe", "lastname": "Test", "company": "Test SaaS"},
            "104": {"email": "c2@test.example", "firstname": "Chloé", "lastname": "TEST", "company": "Test SaaS Ltd."},
        }.items():  # fmt: skip
            conn.execute(
                """insert into raw_hubspot.contacts (id, properties, payload, _synced_at, _batch_id)
                   values (%s, %s, '{}', now(), 't')""",
                (cid, Jsonb(props)),
            )
        conn.commit()
    inbox = tmp_path / "inbox"
    write_export(inbox, reference_files(), name="x")
    result = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert (result.matches.total, result.matches.added) == (2, 2)
    with connect(fresh_db) as conn:
        got = conn.execute(
            """select c.first_name, m.contact_id, m.match_method, m.confidence::float
               from raw_linkedin.contact_matches m join raw_linkedin.connections c on c.row_key = m.connection_row_key
               order by 1"""
        ).fetchall()
    # Ben by email (whatever his HubSpot name), Ada by name + company (GmbH dropped), Chloé ambiguous.
    assert got == [("Ada", "102", "name_company", 0.8), ("Ben", "101", "email", 1.0)]
    rerun = ingest_inbox(fresh_db, inbox, as_of=AS_OF)
    assert (rerun.matches.added, rerun.matches.changed, rerun.matches.removed) == (0, 0, 0)
