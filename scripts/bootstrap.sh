#!/usr/bin/env bash
# Create the virtual environment and install KiloPBX into it, installing what a fresh
# Debian machine lacks (python3-venv). Safe to run again: it only does what is missing.
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "KiloPBX needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
# the system prompts are spoken by espeak-ng at first start (tones without it)
if ! command -v espeak-ng >/dev/null; then
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng \
    || echo "espeak-ng could not be installed: the system prompts will be tones" >&2
fi
# a C compiler and Python's headers let scripts/compile.py build the hot modules (mypyc);
# without them KiloPBX runs as pure Python, slower
if ! command -v cc >/dev/null || ! "$PYTHON" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev \
    || echo "no C compiler: KiloPBX will run as pure Python (slower)" >&2
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.kilopbx-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[test]'
  touch "$stamp"
fi
