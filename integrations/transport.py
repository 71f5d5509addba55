"""Outbound HTTP of webhook deliveries: the public-address guard, and a POST to the address it checked.

The host is resolved once. Every address it resolves to must be public, IPv4 embedded in IPv6
(IPv4-mapped and -compatible, NAT64, 6to4) judged by its IPv4 meaning, and the connection goes to
the first of those very addresses, with the TLS server name and the Host header taken from the URL.
A name that answers a public address to the check and 127.0.0.1 to the connection (DNS rebinding)
therefore reaches nothing but the address that was checked.
"""

import http.client
import ipaddress
import logging
import socket
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10
RESPONSE_BODY_KEPT = 2000
# What the merchant's delivery log says of a refused address; the resolved addresses stay in the
# server's log, since a merchant must not learn the intranet's DNS answers.
REFUSED_NOT_PUBLIC = "refused: not a public address"
REFUSED_PORT = "refused: port not allowed"
REFUSED_UNRESOLVED = "refused: the host does not resolve"
REFUSED_SCHEME = "refused: only http and https URLs are delivered to"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translator


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = int(ip)
    if ip in NAT64_WELL_KNOWN or (packed >> 32 == 0 and packed > 1):
        # ::a.b.c.d (the deprecated IPv4-compatible form, e.g. [::127.0.0.1]) and 64:ff9b::a.b.c.d
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether an address is on the public internet, IPv4 in IPv6 taken for the IPv4 address it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64_LOCAL_USE:
            return False
        inner = embedded_ipv4(ip)
        if inner is not None:
            return is_public(inner)
    return ip.is_global and not ip.is_multicast


def port_allowed(port: int) -> bool:
    """WEBHOOK_ALLOWED_PORTS, None for any port (development and tests)."""
    allowed = settings.WEBHOOK_ALLOWED_PORTS
    return allowed is None or port in allowed


def url_port_allowed(url: str) -> bool:
    """Whether the port a URL names (or its scheme's) is in WEBHOOK_ALLOWED_PORTS."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return False
    return port_allowed(port)


@dataclass(frozen=True)
class Target:
    """Where a URL's request goes: the address that was checked, and what the URL says."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def resolve(url: str) -> tuple[Target | None, str]:
    """The target of a URL, or None and why it may not receive deliveries (a private, loopback,
    link-local or otherwise non-public address, e.g. the cloud metadata service, or a port not in
    WEBHOOK_ALLOWED_PORTS). WEBHOOK_ALLOW_PRIVATE_ADDRESSES lifts the address rule for local
    development and tests; the connection still goes to the address resolved here."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None, REFUSED_SCHEME
    try:
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return None, REFUSED_PORT
    if not host:
        return None, REFUSED_UNRESOLVED
    if not port_allowed(port):
        return None, REFUSED_PORT
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None, REFUSED_UNRESOLVED
    addresses = [str(info[4][0]).split("%")[0] for info in answers]
    if not addresses:
        return None, REFUSED_UNRESOLVED
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        refused = [address for address in addresses if not is_public(ipaddress.ip_address(address))]
        if refused:
            logger.warning("Webhook to %s refused: %s resolves to %s", url, host, ", ".join(refused))
            return None, REFUSED_NOT_PUBLIC
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, address=addresses[0], path=path), ""


def address_refusal(url: str) -> str:
    """Why a URL may not receive deliveries, or "" when it may."""
    return resolve(url)[1]


def _connection(target: Target, *, timeout: float) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        # The certificate is checked against the URL's host (SNI and hostname), not the address.
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def connect_to_checked_address(
        address: tuple[str, int], timeout: float | None = None, source_address: object = None
    ) -> socket.socket:
        return socket.create_connection((target.address, target.port), timeout)

    # http.client opens its socket through this attribute; TLS then wraps it with the host's name.
    connection._create_connection = connect_to_checked_address  # type: ignore[attr-defined]
    return connection


def post(url: str, *, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str, str]:
    """POST to the checked address and return (status, first part of the body, error).

    Redirects are not followed: a 3xx answer is a failed attempt.
    """
    target, refusal = resolve(url)
    if target is None:
        return None, "", refusal
    connection = _connection(target, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=dict(headers))
        response = connection.getresponse()
        text = response.read(RESPONSE_BODY_KEPT).decode("utf-8", "replace")
        return response.status, text, ""
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    finally:
        connection.close()
