"""System and custom prompts, hold music: the voice of the PBX (apps/prompts)."""
