"""Airflow glue of the ingestion DAGs: the HubSpot hook, SendGrid credentials, the interval's "now".

Thin by design: everything that does work lives in growthlab.sources.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseHook


class HubSpotHook(BaseHook):
    """The `hubspot` connection (http: host + private-app token in the password) as a paced,
    retrying client (growthlab.sources.hubspot_api.HubSpotApi)."""

    conn_name_attr = "hubspot_conn_id"
    default_conn_name = "hubspot"
    conn_type = "http"
    hook_name = "HubSpot (growthlab)"

    def __init__(self, hubspot_conn_id: str = default_conn_name, **client_options: Any) -> None:
        super().__init__()
        self.hubspot_conn_id = hubspot_conn_id
        self.client_options = client_options

    def get_conn(self):
        from growthlab.sources.hubspot_api import client_from_connection

        conn = self.get_connection(self.hubspot_conn_id)
        host = conn.host or ""
        if conn.port and "://" in host and host.count(":") == 1:
            host = f"{host}:{conn.port}"
        if host and "://" not in host:
            host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
        return client_from_connection(host, conn.password or "", **self.client_options)


def hubspot_client(conn_id: str = "hubspot"):
    return HubSpotHook(conn_id).get_conn()


def sendgrid_credentials(conn_id: str = "sendgrid") -> dict[str, str | None]:
    """host, api_key and webhook_public_key of the `sendgrid` connection (never logged)."""
    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    return {
        "host": conn.host or "https://api.sendgrid.com",
        "api_key": conn.password,
        "webhook_public_key": extra.get("webhook_public_key"),
    }


def interval_end(context: dict[str, Any]) -> datetime:
    """The run's "now": data_interval_end, or the logical date for manual runs (never the wall clock)."""
    for key in ("data_interval_end", "logical_date"):
        value = context.get(key)
        if value is not None:
            return datetime.fromtimestamp(value.timestamp(), UTC)
    raise RuntimeError(
        "this run has neither a data interval nor a logical date: trigger it with a logical date"
    )
