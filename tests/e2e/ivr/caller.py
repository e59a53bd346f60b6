"""A sipp caller into an IVR: the scenario is written per test from a template, so
that it can press its key as an RFC 4733 pcap shipped with sipp, as a SIP INFO, or as
in-band tones (a pcap of G.711 audio made here), and end as the branch it expects."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from kilopbx.media.codecs import PCMU, encode
from kilopbx.media.inband_dtmf import HIGH, KEYS, LOW
from tests.e2e.calls.peers import PASSWORD, Sipp, start
from tests.harness import HOST, PbxProcess, free_port

SIPP_PCAPS = Path("/usr/share/sip-tester")
PCAP_NAMES = {"*": "star", "#": "pound"}

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="caller into an IVR">
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[

      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:{caller}@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="300"/>
"""

SDP = """      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0{events}
"""
EVENTS = """ 101
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15"""

PCAP_KEY = """  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
"""
PAUSE = """  <pause milliseconds="{ms}"/>
"""

INFO_KEY = """  <send retrans="500"><![CDATA[

      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

Signal={key}
Duration=160

  ]]></send>
  <recv response="200"/>
  <pause milliseconds="200"/>
"""

# the PBX connected us to an extension: talk a little, then hang up
HANG_UP = """  <pause milliseconds="{talk_ms}"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: "Caller" <sip:{caller}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 20 BYE
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""

# the IVR hangs up on us
AWAIT_BYE = """  <recv request="BYE" timeout="{timeout_ms}"/>
  <send><![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
</scenario>
"""


def sipp_pcap(key: str) -> Path:
    return SIPP_PCAPS / f"dtmf_2833_{PCAP_NAMES.get(key, key)}.pcap"


def press_pcap(pcap: Path, ms: int = 600) -> str:
    """Play ``pcap``, then wait ``ms`` (0: go straight on, e.g. to wait for a BYE)."""
    return PCAP_KEY.format(pcap=pcap) + (PAUSE.format(ms=ms) if ms else "")


def press_info(caller: str, key: str, cseq: int = 10) -> str:
    return INFO_KEY.format(caller=caller, key=key, cseq=cseq)


def scenario(
    caller: str,
    keys: list[str],
    *,
    events: bool = True,
    connected: bool,
    talk_ms: int = 1500,
    bye_wait_ms: int = 15000,
) -> str:
    """``connected``: the call is expected to reach an extension (we hang up) rather
    than be hung up by the IVR (we wait up to ``bye_wait_ms`` for its BYE)."""
    sdp = SDP.format(events=EVENTS if events else "")
    end = HANG_UP.format(caller=caller, talk_ms=talk_ms) if connected else AWAIT_BYE
    return HEAD.format(caller=caller, sdp=sdp) + "".join(keys) + end.format(timeout_ms=bye_wait_ms)


def call_ivr(pbx: PbxProcess, caller: str, ivr: str, workdir: Path, text: str) -> Sipp:
    path = workdir / f"ivr-{caller}-{free_port()}.xml"
    path.write_text(text)
    auth = ["-au", caller, "-ap", PASSWORD, "-s", ivr, "-mp", str(free_port(udp_too=True))]
    auth += ["-auth_uri", f"{ivr}@{HOST}:{pbx.sip_port}"]
    return start(pbx, str(path), workdir, extra=auth)


def inband_pcap(path: Path, keys: str, *, tone_ms: int = 120, gap_ms: int = 120) -> Path:
    """A pcap of PCMU RTP (payload type 0) carrying ``keys`` as DTMF tones, framed as
    sipp's own pcaps are (Ethernet, IPv4, UDP), 20 ms per packet."""
    rate = 8000
    samples: list[int] = [0] * (rate * gap_ms // 1000)
    for key in keys:
        row = next(i for i, row_keys in enumerate(KEYS) if key in row_keys)
        low, high = LOW[row], HIGH[KEYS[row].index(key)]
        count = rate * tone_ms // 1000
        samples += [
            int(7000 * math.sin(2 * math.pi * low * n / rate))
            + int(7000 * math.sin(2 * math.pi * high * n / rate))
            for n in range(count)
        ]
        samples += [0] * (rate * gap_ms // 1000)
    pcm = struct.pack(f"={len(samples)}h", *samples)
    records = []
    for index, start_byte in enumerate(range(0, len(pcm) - 319, 320)):
        payload = encode(PCMU, pcm[start_byte : start_byte + 320])
        rtp = struct.pack("!BBHII", 0x80, 0, index, index * 160, 0x4B1D) + payload
        udp = struct.pack("!HHHH", 49176, 10000, 8 + len(rtp), 0) + rtp
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0, 64, 17, 0,
            bytes([192, 168, 0, 3]), bytes([192, 168, 0, 1]),
        ) + udp  # fmt: skip
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = index * 20_000
        header = struct.pack(
            "<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame)
        )
        records.append(header + frame)
    path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(records))
    return path
