#!/usr/bin/env bash
# Install the real SIP peers the tests talk to (../shared/PEERS.md), if missing.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
command -v baresip >/dev/null || missing+=(baresip)
command -v tshark >/dev/null || missing+=(tshark)
command -v unshare >/dev/null || missing+=(util-linux)
command -v ip >/dev/null || missing+=(iproute2)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)  # speaks the system prompts
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | as_root debconf-set-selections || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
