"""Hosts for tests: network namespaces on a bridge, each with an address of its own.

`TestNetwork` makes a bridge in this (the root) namespace with the address `.1` of a random
10.213.x.0/24 subnet, and `add_host()` makes a network namespace joined to it by a veth pair,
with the next address. Servers the hosts share listen on the bridge's address; a process runs
on a host with `ip netns exec`. `close()` deletes the namespaces and the bridge. Needs root and
the `ip` command (as here and in CI); `available()` says whether they are there.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field


def available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


@dataclass
class TestNetwork:
    """A bridge and the namespaces on it; addresses 10.213.<subnet>.<n>."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: 10 + secrets.randbelow(240))
    hosts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bridge = f"nnbr{self.tag}"
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    def address(self, number: int) -> str:
        return f"10.213.{self.subnet}.{number}"

    @property
    def gateway(self) -> str:
        """The bridge's address: where the servers every host shares listen."""
        return self.address(1)

    def add_host(self) -> tuple[str, str]:
        """A new namespace on the bridge: (its name, its address)."""
        number = len(self.hosts) + 2
        name, veth = f"nn{self.tag}h{number}", f"nnv{self.tag}{number}"
        _ip("netns", "add", name)
        self.hosts.append(name)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", name, "addr", "add", f"{self.address(number)}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "link", "set", "lo", "up")
        return name, self.address(number)

    def command(self, host: str, args: list[str]) -> list[str]:
        """`args` run inside the namespace `host`."""
        return ["ip", "netns", "exec", host, *args]

    def close(self) -> None:
        for name in self.hosts:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, timeout=30)
        self.hosts.clear()
