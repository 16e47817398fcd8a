"""The warehouse: embedded or external Postgres, connections, migrations, COPY loading."""

from growthlab.warehouse.db import Urls, connect, redact, resolve_urls

__all__ = ["Urls", "connect", "redact", "resolve_urls"]
