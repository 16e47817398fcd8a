"""The send step in a process of its own, for the crash tests.

`start_send` forks it from a forkserver that has imported growthlab already (so a trial costs a
fork, not an interpreter start). The child signals `ready`, then runs the send step; with
`crash=(POINT, BATCH)` it dies with os._exit (no cleanup, no rollback by Python, like SIGKILL) when
the sender reaches that checkpoint of that batch; otherwise the parent kills it at a random moment.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import datetime
from pathlib import Path

from growthlab.campaigns import pipeline
from growthlab.campaigns.sender import SendAborted, SendOptions

_CTX = multiprocessing.get_context("forkserver")
_CTX.set_forkserver_preload([__name__])


def work(url: str, campaigns: str, sendgrid: str, now: str, batch_size: int, crash, ready) -> None:
    def checkpoint(point: str, batch_no: int) -> None:
        if crash is not None and (point, batch_no) == tuple(crash):
            os._exit(137)

    client = pipeline.sendgrid_client(sendgrid, "SG.crash-test")
    ready.set()
    try:
        pipeline.send(
            url,
            client,
            datetime.fromisoformat(now),
            "crash_worker",
            SendOptions(batch_size=batch_size),
            Path(campaigns),
            checkpoint=checkpoint,
        )
    except SendAborted:
        os._exit(3)


def start_send(url: str, campaigns: Path, sendgrid: str, now: datetime, batch_size: int, crash=None):
    """(process, ready event) of a send step running in its own process."""
    ready = _CTX.Event()
    proc = _CTX.Process(
        target=work,
        args=(url, str(campaigns), sendgrid, now.isoformat(), batch_size, crash, ready),
        daemon=True,
    )
    proc.start()
    return proc, ready
