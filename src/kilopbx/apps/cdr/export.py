"""The CDR file written to disk batch by batch, for `cdr/download` to send."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import IO

from kilopbx.apps.cdr.service import CdrService
from kilopbx.apps.cdr.wire import csv_header, csv_rows


async def spool_csv_file(
    service: CdrService,
    numbers: list[str] | None,
    start: float,
    end: float,
    serial: str,
    directory: Path,
) -> IO[bytes]:
    """The CDR file in an anonymous temporary file, written batch by batch: memory stays
    flat and the event loop is handed back between batches."""
    # in the data directory: /tmp may be a RAM disk; handed to the response, which closes it
    spool = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115
    try:
        await asyncio.to_thread(spool.write, csv_header())
        async for batch in service.batches(numbers, start, end):
            await asyncio.to_thread(spool.write, csv_rows(batch, serial))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool
