"""Where a server listens: a checked ``--host``, loopback or not, free ports, the address to print."""

from __future__ import annotations

import errno
import ipaddress
import socket
from dataclasses import dataclass


class HostError(ValueError):
    """A host this machine cannot listen on: not an address, an unknown name, or not one of its own."""


@dataclass(frozen=True)
class BindAddress:
    """An interface a server can bind: the host as given, its numeric address and address family.

    Example:
        >>> check_host("127.0.0.1").loopback
        True
        >>> check_host("0.0.0.0").url(5000)
        'http://127.0.0.1:5000'
    """

    host: str
    ip: str
    family: int

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect (127.0.0.0/8, ::1)."""
        return ipaddress.ip_address(self.ip).is_loopback

    @property
    def wildcard(self) -> bool:
        """True for 0.0.0.0 and ::, which listen on every interface."""
        return ipaddress.ip_address(self.ip).is_unspecified

    def url(self, port: int) -> str:
        """The ``http://`` address to open on this machine (loopback for a wildcard bind)."""
        host = self.host
        if self.wildcard:
            host = "127.0.0.1" if self.family == socket.AF_INET else "::1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def in_use(self, port: int) -> bool:
        """True when a server could not bind ``port`` here now (something listens on it)."""
        return port_in_use(self.ip, port)

    def suggest_port(self, near: int) -> int:
        """A port that is free now: the first of ``near+1 .. near+100``, else any free one."""
        for port in range(near + 1, min(near + 101, 65536)):
            if not self.in_use(port):
                return port
        return free_port(self.ip)


def _family(ip: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET


def check_host(host: str) -> BindAddress:
    """Check that a server can listen on ``host`` (an IP address or a name of this machine).

    Args:
        host: ``127.0.0.1``, ``localhost``, ``0.0.0.0``, ``::1``, an interface address.

    Raises:
        HostError: not a valid address, a name that does not resolve, or an address that
            belongs to no interface of this machine; the message says which.

    Example:
        >>> check_host("localhost").ip
        '127.0.0.1'
    """
    text = host.strip().strip("[]")
    try:
        ip = str(ipaddress.ip_address(text))
    except ValueError:
        if not text or text.replace(".", "").isdigit() or ":" in text:
            raise HostError(f"{host!r} is not a valid IP address") from None
        try:
            infos = socket.getaddrinfo(text, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise HostError(f"{host!r} is neither an IP address nor a known host name ({exc})") from None
        ip = next((i[4][0] for i in infos if i[0] == socket.AF_INET), infos[0][4][0])
    family = _family(ip)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((ip, 0))
        except OSError as exc:
            raise HostError(f"{host!r} is not an address of this machine ({exc.strerror})") from None
    return BindAddress(host=text, ip=ip, family=family)


def port_in_use(host: str, port: int) -> bool:
    """True when ``port`` on ``host`` cannot be bound now because something listens on it.

    Example:
        >>> port_in_use("127.0.0.1", free_port())
        False
    """
    with socket.socket(_family(host) if _is_ip(host) else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the kernel's choice)."""
    with socket.socket(_family(host) if _is_ip(host) else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
