"""A loopback DNS responder for tests and benchmarks, built on dnspython's message API.

It answers PTR queries over UDP on 127.0.0.1 (a free port) from a table, and
can be told, per address, to delay, return NXDOMAIN, SERVFAIL or REFUSED,
stay silent, or answer with bytes that are no DNS message. It answers A and
AAAA queries from a second table (``forward``): by default every PTR name
resolves back to its address (``ptr(..., confirmed=False)`` leaves it out), as
in a well-kept zone; names it does not know get NXDOMAIN. Delayed answers are scheduled, not slept on, so a thousand
delayed queries in flight are answered in parallel, as a real resolver would.
"""

from __future__ import annotations

import heapq
import ipaddress
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset


@dataclass
class Behaviour:
    """How to answer for one address: names to return, or a failure."""

    names: tuple[str, ...] = ()
    rcode: int = dns.rcode.NOERROR
    delay: float = 0.0
    silent: bool = False
    junk: bool = False  # answer with bytes that are not a DNS message


@dataclass
class DnsResponder:
    table: dict[str, Behaviour] = field(default_factory=dict)
    default: Behaviour = field(default_factory=lambda: Behaviour(rcode=dns.rcode.NXDOMAIN))
    queries: Counter[str] = field(default_factory=Counter)  # by address asked for
    forward: dict[str, set[str]] = field(default_factory=dict)  # host name (no final dot) -> its addresses
    forward_queries: Counter[str] = field(default_factory=Counter)  # by name asked for
    forward_delay: float = 0.0  # seconds before each A/AAAA answer

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def ptr(self, ip: str, *names: str, delay: float = 0.0, confirmed: bool = True) -> None:
        """PTR records for ``ip``; with ``confirmed``, each name's A/AAAA record points back to it."""
        self.table[ip] = Behaviour(names=names, delay=delay)
        if confirmed:
            for name in names:
                self.host(name, ip)

    def host(self, name: str, ip: str) -> None:
        """An A (IPv4) or AAAA (IPv6) record of ``name``."""
        self.forward.setdefault(name.rstrip(".").lower(), set()).add(ip)

    def junk(self, ip: str) -> None:
        self.table[ip] = Behaviour(junk=True)

    def fail(self, ip: str, rcode: int) -> None:
        self.table[ip] = Behaviour(rcode=rcode)

    def silence(self, ip: str) -> None:
        self.table[ip] = Behaviour(silent=True)

    def __enter__(self) -> DnsResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _reply(self, query: dns.message.Message) -> tuple[float, bytes] | None:
        question = query.question[0]
        if question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            return self._forward_reply(query)
        ip = dns.reversename.to_address(question.name)
        with self.lock:
            self.queries[ip] += 1
        behaviour = self.table.get(ip, self.default)
        if behaviour.silent:
            return None
        if behaviour.junk:  # the query's ID, so that the resolver takes it as the answer, then garbage
            return time.monotonic(), query.to_wire()[:2] + b"\x81\x80\xff\xff\x00\x01junk"
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.set_rcode(behaviour.rcode)
        if behaviour.rcode == dns.rcode.NOERROR and behaviour.names and question.rdtype == dns.rdatatype.PTR:
            response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "PTR", list(behaviour.names)))
        return time.monotonic() + behaviour.delay, response.to_wire()

    def _forward_reply(self, query: dns.message.Message) -> tuple[float, bytes]:
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        with self.lock:
            self.forward_queries[name] += 1
        family = ipaddress.IPv4Address if question.rdtype == dns.rdatatype.A else ipaddress.IPv6Address
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if name not in self.forward:
            response.set_rcode(dns.rcode.NXDOMAIN)
        addresses = []
        for ip in self.forward.get(name, ()):
            address = ipaddress.ip_address(ip)
            if isinstance(address, family):
                addresses.append(str(address))
        if addresses:
            rdtype = "A" if family is ipaddress.IPv4Address else "AAAA"
            response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", rdtype, addresses))
        return time.monotonic() + self.forward_delay, response.to_wire()

    def _serve(self) -> None:
        due: list[tuple[float, int, bytes, tuple[str, int]]] = []
        sequence = 0
        while not self._stop.is_set():
            timeout = 0.05 if not due else max(0.0, min(0.05, due[0][0] - time.monotonic()))
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if readable:
                data, peer = self.sock.recvfrom(4096)
                try:
                    reply = self._reply(dns.message.from_wire(data))
                except Exception:  # a malformed query gets no answer, like from a real server under abuse
                    reply = None
                if reply is not None:
                    sequence += 1
                    heapq.heappush(due, (reply[0], sequence, reply[1], peer))
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, _, wire, peer = heapq.heappop(due)
                self.sock.sendto(wire, peer)
