"""Real TCP servers on loopback that misbehave as networks and servers do, for the database's fault tests.

* ``SilentListener``: accepts connections and never says a word (a wrong
  port, a hung server): the MySQL handshake never starts.
* ``FaultyProxy``: a TCP proxy in front of the real MariaDB that forwards
  both ways until the client sends a statement containing ``trigger``; then,
  after forwarding ``after`` more bytes of the server's answer, it either
  stalls (forwards nothing more, holds the connection open) or cuts the
  connection (closes both sides), as a dead proxy or a dropped link would.

Both run in daemon threads, serve until closed, and never reach beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading


class _Server:
    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.closing = threading.Event()
        self.sockets: list[socket.socket] = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                ready, _, _ = select.select([self.listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = self.listener.accept()
            except OSError:  # closed under us: the test is over
                return
            self.accepted += 1
            self.sockets.append(client)
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        for sock in [self.listener, *self.sockets]:
            sock.close()


class SilentListener(_Server):
    """Accepts, then waits without a word until closed."""

    def serve(self, client: socket.socket) -> None:
        self.closing.wait()


class FaultyProxy(_Server):
    def __init__(self, target: tuple[str, int], fault: str, trigger: bytes = b"GROUP_CONCAT", after: int = 0) -> None:
        assert fault in ("stall", "cut")
        self.target, self.fault, self.trigger, self.after = target, fault, trigger, after
        self.faulted = threading.Event()
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        server = socket.create_connection(self.target)
        self.sockets.append(server)
        triggered = False
        left = self.after
        try:
            while not self.closing.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.05)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        triggered = triggered or self.trigger in data
                        server.sendall(data)
                        continue
                    if triggered:
                        data = data[:left]
                        left -= len(data)
                    if data:
                        client.sendall(data)
                    if triggered and left <= 0:
                        self.faulted.set()
                        if self.fault == "cut":
                            return
                        self.closing.wait()  # stall: hold both connections open, forward nothing
                        return
        except OSError:
            return
        finally:
            for sock in (client, server):
                _close(sock)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
