"""A loopback port for a server that takes its port on its command line (it cannot bind 0)."""

from __future__ import annotations

import random
import socket

PORTS = range(20000, 32000)
"""Below the kernels' ephemeral ranges (Linux 32768-60999, macOS 49152-65535): the outgoing
connections of tests running in parallel (pytest-xdist) never take a port picked here between
the pick and the server's bind, as they can take one that bind(0) handed out."""


def free_port() -> int:
    """A port of `PORTS` that nothing listens on now."""
    while True:
        port = random.choice(PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
