"""Real TCP on 127.0.0.1 for request/response latency: Nagle and delayed ACK against
``TCP_NODELAY``, a pooled connection against connect-per-request (lesson 05).

:class:`EchoServer` is a small asyncio echo server run in a thread of its own; a request is
a 4-byte length header (:data:`REQUEST_HEADER`) followed by the body, and the reply is the
body. :func:`request` makes one request on an open connection, header and body in one or
two writes; :func:`request_on_new_connection` connects, makes one request and closes.

Everything is bounded: connections, requests, body size, the server's lifetime and every
socket operation (:data:`SOCKET_TIMEOUT_S`). Leaving ``with EchoServer() as server:``
closes the listening socket, every connection and the thread, and raises if the server
failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import weakref

from latency_lab import validate

#: A request's header: the body's length, 4 bytes big-endian; the reply is the body itself.
REQUEST_HEADER = struct.Struct("!I")
#: Largest request body (bytes).
MAX_BODY_BYTES = 65_536
#: Socket timeout of the clients :meth:`EchoServer.connect` makes (s): nothing waits forever.
SOCKET_TIMEOUT_S = 5.0
#: Most simultaneous connections, and most requests over a server's life, it may be given.
MAX_CONNECTIONS = 1_024
MAX_REQUESTS = 10_000_000
#: Longest server lifetime and longest wait :meth:`EchoServer.stop` accepts (s).
MAX_TIMEOUT_S = 3_600.0


class EchoServer:
    """An asyncio echo server on 127.0.0.1, run in a thread of its own, for loopback TCP
    measurements (lesson 05).

    The protocol is request/response: a request is a :data:`REQUEST_HEADER` (the body's
    length) followed by the body; the server answers with the body once it has all of it.
    That is the pattern where Nagle's algorithm meets delayed ACKs: a client that writes
    the header and the body in two small ``send`` calls (write-write-read) has its second
    write held back until the first is acknowledged, and the server, still waiting for the
    body, delays that acknowledgement.

    Bounded: at most ``max_connections`` open at once (more are closed on arrival), at
    most ``max_requests`` answered, and the server stops by itself ``time_limit_s`` after it
    started. Use ``with EchoServer() as server:`` (or :meth:`start` and :meth:`stop`):
    leaving the block closes the listening socket, every connection (the clients that
    :meth:`connect` made included) and the thread, and raises if the server failed.
    The port is chosen by the operating system (:attr:`port`).

    The server shares this process — and its GIL — with the client: a measurement includes
    the hand-over between the client's thread and the server's.
    """

    def __init__(
        self,
        max_connections: int = 64,
        max_requests: int = 1_000_000,
        time_limit_s: float = 600.0,
    ):
        self.max_connections = validate.integer(
            "max_connections", max_connections, low=1, high=MAX_CONNECTIONS
        )
        self.max_requests = validate.integer("max_requests", max_requests, low=1, high=MAX_REQUESTS)
        self.time_limit_s = validate.real(
            "time_limit_s", time_limit_s, low=0.0, high=MAX_TIMEOUT_S, low_open=True
        )
        self.requests = 0  # answered so far (written by the server's thread only)
        self.connections = 0  # accepted so far
        self.refused = 0  # closed on arrival: max_connections were open
        self.expired = False  # True if time_limit_s ended it
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._open: set = set()
        self._clients: weakref.WeakSet = weakref.WeakSet()

    @property
    def port(self) -> int | None:
        """The port it listens on (None before :meth:`start`)."""
        return self._port

    def start(self) -> EchoServer:
        """Start the server's thread and return once it listens."""
        if self._thread is not None:
            raise RuntimeError("this server was already started; make a new one")
        self._thread = threading.Thread(target=self._run, name="latency-lab echo", daemon=True)
        self._thread.start()
        if not self._ready.wait(SOCKET_TIMEOUT_S):
            raise RuntimeError(f"the echo server did not start within {SOCKET_TIMEOUT_S:g} s")
        if self._error is not None:
            self._thread.join(SOCKET_TIMEOUT_S)
            raise RuntimeError(f"the echo server failed to start: {self._error}") from self._error
        return self

    def connect(self, nodelay: bool = True) -> socket.socket:
        """A new blocking client connection, with ``TCP_NODELAY`` on or off.

        Closed by :meth:`stop` if still open then; reads and writes time out after
        :data:`SOCKET_TIMEOUT_S`.
        """
        if not isinstance(nodelay, bool):
            raise TypeError(f"nodelay must be True or False, got {type(nodelay).__name__}")
        if self._port is None:
            raise RuntimeError("start the server first")
        sock = socket.create_connection(("127.0.0.1", self._port), timeout=SOCKET_TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
        self._clients.add(sock)
        return sock

    def is_listening(self) -> bool:
        """True if something accepts connections on this server's port now (it connects to
        find out: a connection the server counts)."""
        if self._port is None:
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(SOCKET_TIMEOUT_S)
            return probe.connect_ex(("127.0.0.1", self._port)) == 0

    def stop(self, timeout_s: float = 10.0) -> None:
        """Close every client this server made, stop listening, close every connection,
        join the thread (within ``timeout_s``); raise if the server failed."""
        timeout_s = validate.real("timeout_s", timeout_s, low=0.0, high=MAX_TIMEOUT_S)
        for sock in list(self._clients):
            sock.close()
        thread = self._thread
        if thread is not None:
            loop, stopping = self._loop, self._stopping
            if loop is not None and stopping is not None and thread.is_alive():
                with contextlib.suppress(RuntimeError):  # the loop may have just closed
                    loop.call_soon_threadsafe(stopping.set)
            thread.join(timeout_s)
            if thread.is_alive():
                raise RuntimeError(f"the echo server's thread did not end within {timeout_s:g} s")
        if self._error is not None:
            raise RuntimeError(f"the echo server failed: {self._error}") from self._error

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.time_limit_s)
            except TimeoutError:
                self.expired = True
        finally:
            server.close()
            tasks = list(self._open)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._open) >= self.max_connections:
            self.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        self._open.add(task)
        self.connections += 1
        try:
            while self.requests < self.max_requests:
                header = await reader.readexactly(REQUEST_HEADER.size)
                (size,) = REQUEST_HEADER.unpack(header)
                if size > MAX_BODY_BYTES:
                    break
                body = await reader.readexactly(size)
                writer.write(body)
                await writer.drain()
                self.requests += 1
            if self.requests >= self.max_requests:
                self._stopping.set()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._open.discard(task)
            writer.close()

    def __repr__(self) -> str:
        return (
            f"EchoServer(port={self._port}, requests={self.requests}, "
            f"connections={self.connections}, listening_thread={self._thread is not None})"
        )


def _check_body(body) -> bytes:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"body must be bytes, got {type(body).__name__}")
    if not 0 < len(body) <= MAX_BODY_BYTES:
        raise ValueError(f"body must hold 1 to {MAX_BODY_BYTES:,} bytes, got {len(body):,}")
    return bytes(body)


def request(sock: socket.socket, body: bytes, *, split: bool = True) -> bytes:
    """One request/response on a connection to an :class:`EchoServer` (lesson 05).

    ``split=True`` writes the header and the body in two ``send`` calls, then reads the
    reply (write-write-read, the pattern Nagle's algorithm and delayed ACKs stall);
    ``split=False`` writes them in one. Returns the reply (the body).
    """
    body = _check_body(body)
    header = REQUEST_HEADER.pack(len(body))
    if split:
        sock.sendall(header)
        sock.sendall(body)
    else:
        sock.sendall(header + body)
    reply = bytearray()
    while len(reply) < len(body):
        chunk = sock.recv(len(body) - len(reply))
        if not chunk:
            raise ConnectionError("the server closed the connection before replying")
        reply += chunk
    return bytes(reply)


def request_on_new_connection(server: EchoServer, body: bytes, nodelay: bool = True) -> bytes:
    """Connect, make one :func:`request`, close: connect-per-request (lesson 05)."""
    with server.connect(nodelay) as sock:
        return request(sock, body, split=False)
