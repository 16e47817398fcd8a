"""Hooks: turn Airflow connections into what growthlab functions take (URLs, clients)."""

from __future__ import annotations

from urllib.parse import quote

from airflow.sdk import BaseHook


def warehouse_url(conn_id: str = "warehouse") -> str:
    """The libpq URL of the warehouse from the Airflow connection (never logged)."""
    conn = BaseHook.get_connection(conn_id)
    auth = ""
    if conn.login:
        auth = quote(conn.login, safe="")
        if conn.password:
            auth += ":" + quote(conn.password, safe="")
        auth += "@"
    return f"postgresql://{auth}{conn.host}:{conn.port or 5432}/{conn.schema or 'warehouse'}"
