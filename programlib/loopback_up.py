"""Inside a new network namespace, bring the loopback interface up, then become the given program.

    python3 loopback_up.py PROGRAM [ARGS...]

A new namespace has no network at all, not even 127.0.0.1, which Jupyter kernels need to talk to
their client. Loopback stays private to the namespace: nothing outside is reachable.
"""
import fcntl
import os
import socket
import struct
import sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    try:
        loopback_up()
    except OSError as error:  # the program still runs, without loopback
        print(f"loopback_up: could not bring up loopback: {error}", file=sys.stderr)
    os.execvp(sys.argv[1], sys.argv[1:])
