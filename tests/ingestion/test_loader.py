"""The COPY loader puts exactly what it was given into Postgres, merges on the key, and says why not."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growthlab.warehouse.db import connect
from growthlab.warehouse.loader import Column, LoaderError, Target, load_rows, serialise

COLUMNS = (
    Column("id", "text"),
    Column("name", "text"),
    Column("score", "bigint"),
    Column("seen_at", "timestamptz"),
    Column("day", "date"),
    Column("ok", "boolean"),
    Column("tags", "text[]"),
    Column("doc", "jsonb"),
)
META = (Column("_batch_id", "text"),)
DDL = """create table public.t (id text primary key, name text, score bigint, seen_at timestamptz, day date,
         ok boolean, tags text[], doc jsonb, _batch_id text not null)"""
TARGET = Target("public.t", COLUMNS, ("id",), meta=META)


@pytest.fixture
def conn(fresh_db):
    with connect(fresh_db) as c:
        c.execute(DDL)
        c.commit()
        yield c


def table(conn) -> list[tuple]:
    return conn.execute(
        "select id, name, score, seen_at, day, ok, tags, doc, _batch_id from t order by id"
    ).fetchall()


TRICKY = [
    (
        "a",
        "tab\there",
        1,
        "2026-03-02T09:15:00.000Z",
        "2026-03-02",
        True,
        ["x", 'q"uote', "back\\slash"],
        {"k": "line\nbreak", "n": 1.5, "u": "Zoë ☀", "nested": {"l": [1, None, "\\N"]}},
    ),
    ("b", "back\\slash and \\N literal", None, None, None, None, None, None),
    ("c", "cr\rlf\r\n", -5, datetime(2026, 1, 1, 12, tzinfo=UTC), date(2025, 12, 31), False, [], {}),
    ("d", "", 0, "2026-03-02T09:15:00Z", None, False, [None, ""], [1, 2]),
]


def test_tricky_values_arrive_exactly(conn):
    stats = load_rows(conn, TARGET, TRICKY, ["b1"])
    assert (stats.rows, stats.inserted) == (4, 4)
    got = {r[0]: r for r in table(conn)}
    assert got["a"][1] == "tab\there"
    assert got["a"][6] == ["x", 'q"uote', "back\\slash"]
    assert got["a"][7] == TRICKY[0][7]
    assert got["b"][1:8] == ("back\\slash and \\N literal", None, None, None, None, None, None)
    assert got["c"][1] == "cr\rlf\r\n"
    assert got["c"][3] == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert got["c"][7] == {}
    assert got["d"][1] == "" and got["d"][6] == [None, ""] and got["d"][7] == [1, 2]
    assert {r[8] for r in got.values()} == {"b1"}


def test_loading_twice_changes_nothing_and_changes_update(conn):
    load_rows(conn, TARGET, TRICKY, ["b1"])
    again = load_rows(conn, TARGET, TRICKY, ["b2"])
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)
    assert {r[8] for r in table(conn)} == {"b1"}, "an unchanged row must keep the batch that wrote it"
    changed = [("a", "renamed", *TRICKY[0][2:]), ("e", "new", 1, None, None, None, None, None)]
    stats = load_rows(conn, TARGET, changed, ["b3"])
    assert (stats.inserted, stats.updated, stats.unchanged) == (1, 1, 0)
    got = {r[0]: r for r in table(conn)}
    assert got["a"][1] == "renamed" and got["a"][8] == "b3"
    assert got["b"][8] == "b1"
    assert len(got) == 5


@pytest.mark.parametrize("direct", [True, False])
def test_duplicate_keys_in_one_load_keep_the_last(conn, direct):
    rows = [(f"k{i % 3}", f"v{i}", i, None, None, None, None, None) for i in range(9)]
    stats = load_rows(conn, TARGET, rows, ["b1"], chunk_rows=4, direct_when_empty=direct)
    assert stats.rows == 9 and stats.loaded == 9
    assert [(r[0], r[1]) for r in table(conn)] == [("k0", "v6"), ("k1", "v7"), ("k2", "v8")]


def test_chunks_stream_and_pipeline_gives_same_result(conn):
    rows = [(f"id{i:05d}", f"n{i}", i, None, None, i % 2 == 0, None, {"i": i}) for i in range(2_500)]
    stats = load_rows(conn, TARGET, iter(rows), ["b1"], chunk_rows=300)
    assert stats.chunks == 9 and stats.inserted == 2_500
    assert conn.execute("select count(*), sum(score), count(*) filter (where ok) from t").fetchone() == (
        2_500,
        sum(range(2_500)),
        1_250,
    )


def test_a_bad_value_names_the_row_and_column(conn):
    rows = [
        ("good", None, 1, None, None, None, None, None),
        ("bad", None, 2, "not a time", None, None, None, None),
    ]
    with pytest.raises(LoaderError, match=r"public\.t.*'id': 'bad'.*seen_at"):
        load_rows(conn, TARGET, rows, ["b1"], direct_when_empty=False)
    assert table(conn) == []


def test_nul_characters_are_refused_before_the_database(conn):
    with pytest.raises(LoaderError, match=r"column name, row 1: .*NUL"):
        load_rows(conn, TARGET, [("a", "ok", *[None] * 6), ("b", "n\x00ul", *[None] * 6)], ["b1"])
    with pytest.raises(LoaderError, match=r"column doc, row 0: .*NUL"):
        load_rows(conn, TARGET, [("a", "ok", None, None, None, None, None, {"x": "\x00"})], ["b1"])


def test_wrong_row_width_is_an_error():
    with pytest.raises(LoaderError, match="rows must have 8 values"):
        serialise([("a", "b")], COLUMNS)


texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(texts, st.none() | texts, st.dictionaries(texts, st.none() | texts | st.integers())))
)
def test_any_text_roundtrips(conn, values):
    conn.execute("truncate t")
    conn.commit()
    rows = [
        (f"{i}", name, None, None, None, None, [extra], doc) for i, (extra, name, doc) in enumerate(values)
    ]
    load_rows(conn, TARGET, rows, ["b"], pipeline=False)
    got = conn.execute("select name, tags, doc from t order by id::int").fetchall()
    assert got == [(r[1], r[6], json.loads(json.dumps(r[7]))) for r in rows]


def test_the_loader_never_leaves_a_half_chunk(conn):
    """A failing chunk rolls back entirely; earlier chunks stay (and merge again on the rerun)."""
    rows = [(f"r{i}", None, i, None, None, None, None, None) for i in range(10)]
    rows[7] = ("r7", None, 7, "garbage", None, None, None, None)
    with pytest.raises(LoaderError):
        load_rows(conn, TARGET, rows, ["b1"], chunk_rows=5)
    assert [r[0] for r in table(conn)] == [f"r{i}" for i in range(5)]
    rows[7] = ("r7", None, 7, None, None, None, None, None)
    stats = load_rows(conn, TARGET, rows, ["b2"], chunk_rows=5)
    assert (stats.inserted, stats.unchanged) == (5, 5)
    assert conn.execute("select count(*) from t").fetchone()[0] == 10
    with pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("insert into t (id, _batch_id) values ('r0', 'x')")


@pytest.mark.parametrize("direct", [True, False])
def test_a_bad_value_deep_in_a_chunk_of_many_parts_names_its_escaped_key(conn, direct):
    """A chunk is serialised in several parts; the failing line is mapped back to its row's key."""
    rows = [(f"r{i:02d}", f"n{i}", i, None, None, i % 2 == 0, None, {"i": i}) for i in range(40)]
    rows[33] = ("tab\tkey\\33", None, 33, "not a time", None, None, None, None)
    with pytest.raises(LoaderError) as info:
        load_rows(conn, TARGET, rows, ["b1"], chunk_rows=20, serialise_rows=7, direct_when_empty=direct)
    message = str(info.value)
    assert "row 33 of the load" in message and repr({"id": "tab\tkey\\33"}) in message, message
    assert "seen_at" in message
    assert [r[0] for r in table(conn)] == [f"r{i:02d}" for i in range(20)], "the first chunk stays"


def test_serialised_fields_of_every_kind():
    cols = (
        Column("t", "text"),
        Column("n", "double precision"),
        Column("b", "boolean"),
        Column("j", "jsonb"),
    )
    rows = [("a\\b", 1.5, 1, None), (None, None, 0, {"x": "\\"}), ("", -2, "yes", "s")]
    assert serialise(rows, cols, ["c\t1"]).decode().splitlines() == [
        "a\\\\b\t1.5\tt\t\\N\tc\\t1",
        '\\N\t\\N\tf\t{"x":"\\\\\\\\"}\tc\\t1',
        '\t-2\tt\t"s"\tc\\t1',
    ]
