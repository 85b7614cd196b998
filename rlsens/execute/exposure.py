"""Which network ports a group of processes listens on, and whether any is off this machine.

The local Ray instance must be reachable from this machine only: unauthenticated Ray runs any
code it is sent. Ray decides where each of its servers binds from the node address, and a
Ray upgrade can change that silently, so the backend checks what Ray actually opened instead
of trusting its settings. Linux only (reads ``/proc``); elsewhere nothing is found.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
_TCP_LISTEN = "0A"


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket or a bound UDP socket, and the process holding it."""

    protocol: str  # "tcp" or "udp"
    address: str
    port: int
    pid: int
    process: str
    inode: int

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.address)
        mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is IPv4 loopback
        return (mapped or ip).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.protocol} {host}:{self.port} ({self.process}, pid {self.pid})"


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in _pids():
        try:
            stat = (PROC / str(entry) / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses; the ppid follows it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(entry)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def listeners(pids: Iterable[int]) -> list[Listener]:
    """Every listening TCP and bound UDP socket (IPv4 and IPv6) that one of ``pids`` holds."""
    owners: dict[int, int] = {}
    for pid in pids:
        for inode in _socket_inodes(pid):
            owners.setdefault(inode, pid)
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if inode not in owners or (table.startswith("tcp") and state != _TCP_LISTEN):
                continue
            address, port = _decode(local)
            pid = owners[inode]
            found.append(Listener(table[:3], address, port, pid, _name(pid), inode))
    return sorted(found, key=lambda item: (item.pid, item.port))


def exposed(found: Iterable[Listener]) -> list[Listener]:
    """The listeners another machine could reach."""
    return [item for item in found if not item.loopback]


def _pids() -> list[int]:
    try:
        return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        fds = list((PROC / str(pid) / "fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def _decode(local: str) -> tuple[str, int]:
    """``/proc/net/tcp*`` address: hex IP in host byte order per 32-bit word, hex port."""
    hex_ip, hex_port = local.split(":")
    raw = bytes.fromhex(hex_ip)
    words = raw
    if sys.byteorder == "little":
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.IPv4Address(words) if len(raw) == 4 else ipaddress.IPv6Address(words)
    return str(ip), int(hex_port, 16)


def _name(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return "?"
