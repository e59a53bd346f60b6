"""Prompts feature: prepares the prompt files, serves them to the engine and the API.

At start it makes the prompt directories, converts the WAVs an administrator dropped
into `custom/`, and (in the background, so the PBX serves at once) generates the
system prompts and the hold music that are missing. Until they exist, look-ups
answer None and callers play a tone instead. `[prompts] seed` (or
`KILOPBX_PROMPTS_SEED`) names a directory of prepared system prompts to copy instead
of generating them; the prompts generated here are copied back into it, so a
machine running many PBXs (the tests) speaks each prompt once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.prompts import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.prompts.generate import catalog_digest, generate_missing, seed_from
from kilopbx.apps.prompts.store import PROMPTS, PromptStore
from kilopbx.core.registry import Need
from kilopbx.engine.sounds import SOUNDS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (PROMPTS, SOUNDS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.store = PromptStore(pbx.settings.data_dir)
        pbx.registry.provide(PROMPTS, self.store)
        pbx.registry.provide(SOUNDS, self.store)
        seed = os.environ.get("KILOPBX_PROMPTS_SEED") or pbx.settings.extra.get("prompts", {}).get(
            "seed"
        )
        # one seed per catalogue version: changed texts are spoken again
        self.seed = Path(seed) / catalog_digest() if seed else None
        self.ready: asyncio.Task[None] | None = None
        self.stopping = threading.Event()  # the generating thread stops between prompts

    async def start(self) -> None:
        await asyncio.to_thread(self.store.ensure_dirs)
        converted = await asyncio.to_thread(self.store.normalize_dropped)
        if converted:
            log.info("custom prompts converted: %s", ", ".join(converted))
        self.ready = asyncio.get_running_loop().create_task(self._prepare())

    async def _prepare(self) -> None:
        try:
            if self.seed is not None:
                await asyncio.to_thread(seed_from, self.store, self.seed)
            made = await asyncio.to_thread(generate_missing, self.store, self.seed, self.stopping)
            if made:
                log.info("system prompts: %d generated", made)
        except Exception:
            log.exception("system prompts could not be prepared")

    async def stop(self) -> None:
        self.stopping.set()
        if self.ready is not None and not self.ready.done():
            self.ready.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ready
