"""A TCP proxy the reliability tests put between the bridge and a server, to cut the server off on demand.

The session's Keycloak is shared by every test, so an outage test must not stop it: pointing the bridge at
this proxy and taking the proxy down makes Keycloak unreachable for the bridge alone (connections refused,
connections in flight reset), and bringing it up on the same port ends the outage. ``hold_after`` freezes the
server-to-client direction once that many bytes went through, so a test can stop the server itself at a
known point of a long read (slapd mid-paging) and the client sees the connection end there.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from bridge.testbed.ports import free_port


class TcpProxy:
    """127.0.0.1:<port> → ``target_host``:``target_port``, one thread pair per connection."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        #: Server-to-client bytes after which the proxy stops forwarding (None: never).
        self.hold_after: int | None = None
        self.forwarded = 0
        #: Set once the server-to-client direction reached ``hold_after``.
        self.holding = threading.Event()

    @property
    def up(self) -> bool:
        """True while the proxy accepts connections."""
        return self._listener is not None

    def start(self) -> TcpProxy:
        """Listen (again) on the same port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="tcp-proxy").start()
        return self

    def stop(self) -> None:
        """Stop listening and reset every connection in flight: the server is unreachable from now on."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            open_sockets, self._sockets = list(self._sockets), set()
        for sock in open_sockets:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            with suppress(OSError):
                sock.close()

    close = stop

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if from_server and self.hold_after is not None:
                    room = self.hold_after - self.forwarded
                    if room <= 0:
                        self.holding.set()
                        # hold: forward nothing more until the test stops the server (then the pipe ends)
                        while source.recv(65536):
                            pass
                        break
                    data = data[:room] if len(data) > room else data
                if from_server:
                    self.forwarded += len(data)
                sink.sendall(data)
                if from_server and self.hold_after is not None and self.forwarded >= self.hold_after:
                    self.holding.set()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with suppress(OSError):
                    sock.close()
                with self._lock:
                    self._sockets.discard(sock)
