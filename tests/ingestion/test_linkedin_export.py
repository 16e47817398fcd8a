"""LinkedIn export parsing: every quirk of the real files, stable keys, clear errors, fuzzed input."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growthlab.sources.linkedin_dates import parse_when
from growthlab.sources.linkedin_export import (
    ExportError,
    normalise_profile_url,
    parse_archive,
    table_columns,
)

REFERENCE = (
    Path(__file__).resolve().parents[1] / "reference" / "linkedin_export"
)  # copied from ../shared/reference


def reference_files() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in REFERENCE.glob("*.csv")}


def write_export(
    folder: Path, files: dict[str, bytes], *, as_zip: bool = False, name: str = "export"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if as_zip:
        path = folder / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for fname, data in files.items():
                zf.writestr(zipfile.ZipInfo(f"Basic_LinkedInDataExport/{fname}", (2026, 8, 1, 9, 0, 0)), data)
        return path
    path = folder / name
    path.mkdir()
    for fname, data in files.items():
        (path / fname).write_bytes(data)
    return path


def as_real_export(data: bytes) -> bytes:
    """What real exports look like on disk: UTF-8 BOM and CRLF line ends."""
    return b"\xef\xbb\xbf" + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def rows_by_column(export, table: str) -> list[dict]:
    cols = table_columns(table)
    return [dict(zip(cols, r, strict=True)) for r in export.rows(table)]


def test_reference_export_parses_with_every_quirk(tmp_path):
    export = parse_archive(write_export(tmp_path, reference_files()))
    assert export.owner == "ben-sample"
    conns = rows_by_column(export, "connections")
    assert [c["first_name"] for c in conns] == ["Ada", "Ben", "Chloé"]
    assert conns[0]["connected_on"] == date(2025, 9, 2) and conns[2]["connected_on"] == date(2023, 3, 3)
    assert conns[1]["company"] == "Sample Corp, Inc." and conns[1]["email"] == "ben.sample@example.com"
    assert conns[2]["profile_url"] == "https://www.linkedin.com/in/chloe-test-42"  # trailing slash gone
    assert conns[0]["_source_line"] == 5  # after the 3-line Notes preamble and the header
    # the `,,,,,,30 Apr 2024` line: a hidden member, quarantined with its line, not dropped
    (hidden,) = export.rejects("connections")
    assert hidden.rule == "connection.no_identity" and hidden.row_ref.endswith("Connections.csv:7")
    inv = rows_by_column(export, "invitations")
    assert inv[0]["sent_at"] == datetime(2025, 9, 27, 8, 41, tzinfo=UTC)
    assert inv[2]["direction"] == "INCOMING"
    msgs = rows_by_column(export, "messages")
    assert msgs[0]["sent_at"] == datetime(2025, 10, 6, 23, 49, 2, tzinfo=UTC)
    assert msgs[0]["extra"] == {} and msgs[0]["attachments"] is None
    shares = rows_by_column(export, "shares")
    assert (
        shares[0]["share_commentary"]
        == "We just published our 2025 B2B benchmark report.\n\nLink in comments."
    )
    assert shares[1]["_source_line"] == 5  # the multi-line share took lines 2-4
    pos = rows_by_column(export, "positions")
    assert {(p["started_on"], p["finished_on"]) for p in pos} == {
        (date(2024, 9, 1), None),
        (date(2023, 8, 1), date(2024, 9, 1)),
    }


def test_bom_crlf_zip_gives_the_same_rows_and_keys(tmp_path):
    plain = parse_archive(write_export(tmp_path / "a", reference_files()))
    real = parse_archive(
        write_export(
            tmp_path / "b", {k: as_real_export(v) for k, v in reference_files().items()}, as_zip=True
        )
    )
    for table in ("connections", "invitations", "messages", "positions", "shares", "profiles"):
        strip = lambda rows: [r[:-5] for r in rows]  # noqa: E731 - provenance differs, content must not
        assert strip(real.rows(table)) == strip(plain.rows(table)), table
    assert real.exported_at == datetime(2026, 8, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "preamble",
    [b"", b'Notes:\n"Short note."\n\n', b'Notes:\n"A long note,\nover several lines, with, commas"\n\n\n'],
)
def test_any_preamble_length(tmp_path, preamble):
    files = reference_files()
    body = files["Connections.csv"].split(b"\n", 3)[3]  # drop the reference preamble
    files["Connections.csv"] = preamble + body
    export = parse_archive(write_export(tmp_path, files))
    assert len(export.rows("connections")) == 3


def test_extra_and_missing_optional_columns(tmp_path):
    files = reference_files()
    files["messages.csv"] = (
        b"CONVERSATION ID,FROM,DATE,CONTENT,IS MESSAGE DRAFT,REACTION\n"
        b"c1,Ada Example,2025-10-06 23:49:02 UTC,hello,No,thumbs\n"
        b"c1,Ben Sample,2025-10-06 23:50:02 UTC,draft,Yes,\n"
    )
    export = parse_archive(write_export(tmp_path, files))
    msgs = rows_by_column(export, "messages")
    assert [m["is_draft"] for m in msgs] == [False, True]
    assert msgs[0]["extra"] == {"REACTION": "thumbs"} and msgs[0]["folder"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("02 Sep 2025", date(2025, 9, 2)),
        ("3 Mar 2023", date(2023, 3, 3)),
        ("9/27/25, 8:41 AM", datetime(2025, 9, 27, 8, 41, tzinfo=UTC)),
        ("9/15/25, 5:58\u202fPM", datetime(2025, 9, 15, 17, 58, tzinfo=UTC)),
        ("12/1/2025, 12:05 AM", datetime(2025, 12, 1, 0, 5, tzinfo=UTC)),
        ("2025-10-06 23:49:02 UTC", datetime(2025, 10, 6, 23, 49, 2, tzinfo=UTC)),
        ("2025-09-22 21:06:44", datetime(2025, 9, 22, 21, 6, 44, tzinfo=UTC)),
        ("Aug 2023", date(2023, 8, 1)),
        ("September 2024", date(2024, 9, 1)),
        ("2019", date(2019, 1, 1)),
    ],
)
def test_every_export_date_format(text, expected):
    assert parse_when(text) == expected


@pytest.mark.parametrize(
    "text", ["31 Feb 2025", "13/45/25, 9:00 AM", "yesterday", "Smarch 2024", "9/27/25, 13:00 PM"]
)
def test_impossible_dates_are_rejected(text):
    with pytest.raises(ValueError, match="date"):
        parse_when(text)


def test_a_bad_date_quarantines_only_its_row(tmp_path):
    files = reference_files()
    files["Invitations.csv"] = files["Invitations.csv"].replace(b'"9/16/25, 6:35 PM"', b'"the 16th"')
    export = parse_archive(write_export(tmp_path, files))
    assert len(export.rows("invitations")) == 2
    (bad,) = export.rejects("invitations")
    assert bad.rule == "parse.date" and "Invitations.csv:3" in bad.reason and "Sent At" in bad.reason
    assert bad.payload["fields"][2] == "the 16th"


def test_wrong_field_count_and_nul_are_row_rejects(tmp_path):
    files = reference_files()
    files["Positions.csv"] += b"Acme,CEO,,Berlin,Jan 2020\nAcme\x00,CTO,,Berlin,Jan 2020,\n"
    export = parse_archive(write_export(tmp_path, files))
    assert sorted(r.rule for r in export.rejects("positions")) == ["encoding.nul", "parse.field_count"]
    assert len(export.rows("positions")) == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda f: f.update({"Shares.csv": f["Shares.csv"] + b'2025-01-01 00:00:00,x,"never closed\n'}),
            r"Shares.csv, line \d+: unreadable CSV",
        ),
        (
            lambda f: f.update({"messages.csv": b"\xff\xfe" + "CONVERSATION ID".encode("utf-16-le")}),
            r"messages.csv, line 1: not UTF-8",
        ),
        (
            lambda f: f.update({"Invitations.csv": b"From,To,Message\nA,B,hi\n"}),
            r"Invitations.csv: no header line with the columns direction, from, sent at, to",
        ),
        (lambda f: f.pop("Profile.csv"), "Profile.csv is missing"),
    ],
)
def test_unreadable_files_fail_with_name_line_and_reason(tmp_path, mutate, message):
    files = reference_files()
    mutate(files)
    with pytest.raises(ExportError, match=message):
        parse_archive(write_export(tmp_path, files))


def test_a_broken_zip_is_named(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ExportError, match=r"broken\.zip: not a readable zip archive"):
        parse_archive(tmp_path / "broken.zip")


def test_keys_are_stable_and_identical_rows_stay_distinct(tmp_path):
    files = reference_files()
    dup_line = files["messages.csv"].splitlines()[1] + b"\n"
    files["messages.csv"] += dup_line  # LinkedIn does repeat identical messages
    a = parse_archive(write_export(tmp_path / "a", files))
    b = parse_archive(write_export(tmp_path / "b", files))
    keys = [r[0] for r in a.rows("messages")]
    assert keys == [r[0] for r in b.rows("messages")]
    assert len(set(keys)) == 3 and keys[2] == keys[0] + "#2"


def test_profile_urls_normalise():
    assert (
        normalise_profile_url("linkedin.com/in/Ada-Example/?trk=x")
        == "https://www.linkedin.com/in/ada-example"
    )
    assert normalise_profile_url("  ") is None


# -- fuzzing ----------------------------------------------------------------------------------

MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "replace"]),
        st.integers(min_value=0, max_value=10_000),
        st.sampled_from(
            [b'"', b",", b"\n", b"\r\n", b"\x00", b"\xff", b"\xef\xbb\xbf", b"", b"Sep", b"99", b"\\"]
        ),
    ),
    max_size=6,
)


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, pos, chunk in ops:
        i = pos % (len(buf) + 1)
        if op == "insert":
            buf[i:i] = chunk
        elif op == "delete":
            del buf[i : i + max(1, len(chunk))]
        else:
            buf[i : i + len(chunk)] = chunk
    return bytes(buf)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(reference_files())), ops=MUTATIONS)
def test_fuzzed_files_parse_cleanly_or_fail_clearly(tmp_path_factory, name, ops):
    files = reference_files()
    files[name] = _mutate(files[name], ops)
    folder = tmp_path_factory.mktemp("fuzz")
    try:
        export = parse_archive(write_export(folder, files))
    except ExportError as exc:
        assert exc.archive == "export" and str(exc).startswith("export")
        return
    for table in ("profiles", "connections", "invitations", "messages", "positions", "shares"):
        cols = table_columns(table)
        for row in export.rows(table):
            assert len(row) == len(cols)  # never a half-parsed row
            record = dict(zip(cols, row, strict=True))
            for col in ("connected_on", "started_on", "finished_on"):
                assert record.get(col) is None or isinstance(record[col], date)
            for col in ("sent_at", "shared_at"):
                assert record.get(col) is None or (isinstance(record[col], datetime) and record[col].tzinfo)
            assert not any(isinstance(v, str) and "\x00" in v for v in row)
        for rej in export.rejects(table):
            assert rej.rule and rej.reason and ":" in rej.row_ref


def test_a_nested_folder_is_found(tmp_path):
    """A folder holding the export one level down (as unzipped by hand) is read too."""
    nested = tmp_path / "outer"
    write_export(nested, reference_files(), name="Basic_LinkedInDataExport_08-01-2026")
    export = parse_archive(nested)
    assert len(export.rows("connections")) == 3
