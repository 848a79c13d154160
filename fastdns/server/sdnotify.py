"""systemd's notify protocol (sd_notify(3)), for ``Type=notify`` units.

The service manager gives the socket's address in ``NOTIFY_SOCKET`` (a path, or ``@name``
for the abstract namespace); each state is one datagram of ``KEY=VALUE`` lines. Without
``NOTIFY_SOCKET`` (not run by systemd) every call is a no-op. The master alone notifies:
``READY=1`` once every worker serves, ``RELOADING=1`` and ``READY=1`` around a HUP,
``STOPPING=1`` when it stops, ``STATUS=`` lines for ``systemctl status``.
"""

import os
import socket
import time


def notify(*lines: str) -> bool:
    """Send ``lines`` as one notification; whether it was sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address or address[0] not in "/@":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto("\n".join(lines).encode(), target)
    except OSError:
        return False
    return True


def reloading() -> bool:
    """``RELOADING=1`` with the time systemd (253 and later) wants beside it."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}")
