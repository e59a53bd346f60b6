#!/usr/bin/env bash
# What `make bench` needs beyond the test peers: Kamailio, which the steady-state SIP
# benchmarks run side by side with KiloPBX under the same sipp load (docs/benchmarks.md).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v kamailio >/dev/null || missing+=(kamailio)
[ -e /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so ] || missing+=(kamailio-sqlite-modules)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
