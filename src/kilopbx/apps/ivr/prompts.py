"""What the worker plays for an IVR's prompt names.

An IVR's `prompt` is `[Default]` (the system menu prompt) or the name of a custom
prompt file. System prompts are looked up as `<data>/prompts/system/<name>.wav`,
custom ones as `<data>/prompts/custom/<name>`; the name must be a plain file name
(no directory, no `..`), so that no setting can make the worker read another file.
A prompt whose file is missing falls back to a short tone, so that a caller always
hears that the menu is waiting for a key (and the call never fails for a prompt).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)

# played when a prompt's file is missing: a soft two-note chime, the reorder tone
FALLBACK = {
    "ivr-menu": "tone:523+659/700,300",
    "ivr-invalid": "tone:480+620/250,250",
    "unavailable": "tone:congestion",
}
DEFAULT_FALLBACK = "tone:523+659/700,300"
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.+-]{0,127}")


class PromptSources:
    def __init__(self, data_dir: Path) -> None:
        self.system = (data_dir / "prompts" / "system").resolve()
        self.custom = (data_dir / "prompts" / "custom").resolve()

    def source(self, name: str, *, custom: bool = False) -> str:
        """The worker source of one prompt (a `file:` path, or a fallback tone)."""
        if _PLAIN_NAME.fullmatch(name) and ".." not in name:
            folder = self.custom if custom else self.system
            path = folder / (name if custom else f"{name}.wav")
            if path.is_file():
                return f"file:{path}"
        log.info("prompt %r has no file; playing a tone instead", name[:64])
        return FALLBACK.get(name, DEFAULT_FALLBACK)
