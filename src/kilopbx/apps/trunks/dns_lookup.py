"""The DNS behind the trunks' RFC 3263 resolver: dnspython's asyncio resolver.

The name server is the system's (/etc/resolv.conf) unless the `[trunks]` settings
name one (`nameserver = "127.0.0.1:5353"`, or `KILOPBX_TRUNKS_NAMESERVER`): a site
with its own DNS for providers, and the tests, which start a DNS server of their own.
"""

from __future__ import annotations

import logging

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from kilopbx.apps.trunks.line_config import ip_literal
from kilopbx.apps.trunks.resolver import DnsFailure, Lookup, Naptr, Record, Srv

log = logging.getLogger(__name__)

QUERY_LIFETIME = 3.0  # seconds for one question, retries included


def make_lookup(nameserver: tuple[str, int] | None = None) -> Lookup:
    if nameserver is not None:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [nameserver[0]]
        resolver.port = nameserver[1]
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            log.warning("no DNS resolver configured: trunk host names will not resolve")
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = ["127.0.0.1"]
    resolver.lifetime = QUERY_LIFETIME
    resolver.cache = None  # the SipResolver caches, by TTL

    async def lookup(name: str, rdtype: str) -> tuple[list[Record], float]:
        try:
            answer = await resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], 0.0
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsFailure(type(exc).__name__) from exc
        except dns.exception.DNSException as exc:  # a malformed name or answer
            raise DnsFailure(type(exc).__name__) from exc
        rrset = answer.rrset
        if rrset is None:
            return [], 0.0
        records: list[Record] = []
        for rdata in rrset:
            if rdata.rdtype == dns.rdatatype.NAPTR:
                records.append(
                    Naptr(
                        rdata.order,
                        rdata.preference,
                        rdata.flags.decode("ascii", "replace"),
                        rdata.service.decode("ascii", "replace"),
                        rdata.replacement.to_text(),
                    )
                )
            elif rdata.rdtype == dns.rdatatype.SRV:
                records.append(
                    Srv(rdata.priority, rdata.weight, rdata.port, rdata.target.to_text())
                )
            elif rdata.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                records.append(rdata.address)
        return records, float(rrset.ttl)

    return lookup


def parse_nameserver(text: str) -> tuple[str, int] | None:
    """ "" -> None (the system's); "ip" or "ip:port" ("[v6]:port"); ValueError else."""
    value = text.strip()
    if not value:
        return None
    host, port = value, "53"
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"nameserver {value[:60]!r}: [address]:port")
        port = rest[1:] or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    address = ip_literal(host)
    if address is None or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"nameserver {value[:60]!r}: an IP address and an optional port")
    return address, int(port)
