from __future__ import annotations

import pytest

from growthlab.config import ConfigError, get_settings
from growthlab.warehouse.db import libpq_url, redact, sqlalchemy_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@h/db", "expected a URL like postgresql://"),
        ("postgresql://u:p@h:notaport/db", "port that is not a number"),
        ("postgresql://u:p@h:5432", "must name a host and a database"),
    ],
)
def test_bad_warehouse_url_names_the_variable(monkeypatch, url, message):
    monkeypatch.setenv("GROWTHLAB_WAREHOUSE_URL", url)
    with pytest.raises(ConfigError, match=message) as err:
        get_settings()
    assert "GROWTHLAB_WAREHOUSE_URL" in str(err.value)


@pytest.mark.parametrize("port", ["abc", "70000"])
def test_bad_port(monkeypatch, port):
    monkeypatch.setenv("GROWTHLAB_PG_PORT", port)
    with pytest.raises(ConfigError, match="GROWTHLAB_PG_PORT"):
        get_settings()


def test_external_url_disables_embedded(monkeypatch):
    monkeypatch.setenv("GROWTHLAB_WAREHOUSE_URL", "postgresql://u:p@db.internal:5432/warehouse")
    assert not get_settings().embedded


def test_url_helpers_never_leak_passwords():
    url = "postgresql+psycopg2://growthlab:s3cret@127.0.0.1:5432/warehouse"
    assert "s3cret" not in redact(url)
    assert libpq_url(url).startswith("postgresql://growthlab:s3cret@")
    assert sqlalchemy_url("postgres://a:b@h/d", "psycopg").startswith("postgresql+psycopg://")
