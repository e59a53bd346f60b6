"""What the worker plays for the prompt names of IVRs and voicemail.

Prompts are the prompt store's (`kilopbx.apps.prompts.store`): a custom prompt of a
name overrides the system prompt of that name, and a name cannot leave the prompts
directory. A prompt that does not exist (the system prompts are still being spoken
at first start, or espeak-ng is missing) falls back to a short tone, so that a
caller always hears that the menu is waiting for a key and a call never fails for a
prompt.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kilopbx.apps.prompts.store import PromptStore

log = logging.getLogger(__name__)

# played when a prompt is missing: a soft two-note chime, the reorder tone
FALLBACK = {
    "ivr-menu": "tone:523+659/700,300",
    "ivr-invalid": "tone:480+620/250,250",
    "unavailable": "tone:congestion",
}
DEFAULT_FALLBACK = "tone:523+659/700,300"


class PromptSources:
    def __init__(self, data_dir: Path) -> None:
        self.store = PromptStore(data_dir)

    def source(self, name: str) -> str:
        """The worker source of one prompt (a `file:` path, or a fallback tone)."""
        found = self.store.prompt(name)
        if found is not None:
            return found
        log.info("prompt %r does not exist; playing a tone instead", name[:64])
        return FALLBACK.get(name, DEFAULT_FALLBACK)
