"""A minimal i-PI socket client that serves one PES and exits cleanly when the server goes away.

Why not i-PI's own loop: in i-PI 3.3.1 the client loop ``run_driver`` lives only
in the ``i-pi-py_driver`` script (it is not importable from the ``ipi``
package), and it reads each header with a bare ``sock.recv(12)``: when the
server disappears, ``recv`` returns ``b""`` forever and the loop spins at 100 %
CPU without exiting. This client reuses i-PI's protocol pieces
(:mod:`ipi.interfaces.sockets`: the message headers and ``DriverSocket.recvall``,
which raises ``Disconnected`` at end of stream) and turns every way the server
can vanish into :class:`ServerGone`.

Protocol (single structure per request, i-PI's default; all numbers native-endian):
``STATUS`` -> ``NEEDINIT`` / ``READY`` / ``HAVEDATA``; ``INIT`` <- int32 replica
id, int32 length, that many bytes; ``POSDATA`` <- float64 cell (3, 3), inverse
cell (3, 3), int32 n_atoms, float64 positions (n_atoms, 3), Bohr; ``GETFORCE``
-> ``FORCEREADY``, float64 potential (Hartree), int32 n_atoms, float64 forces
(n_atoms, 3) (Hartree/Bohr), float64 virial (3, 3) (Hartree), int32 length and
the extras bytes; ``EXIT``: return.

Batched requests (i-PI >= 3.3: ``<batch_size> B </batch_size>`` in ``<ffsocket>``, announced by a
``batch_size:B`` token in the INIT string): ``POSDATA`` <- int32 n_atoms, B x (cell, inverse cell), float64 positions
(B, n_atoms, 3); ``GETFORCE`` -> ``FORCEREADY``, float64 potentials (B,), int32 n_atoms, float64 forces
(B, n_atoms, 3), virials (B, 3, 3), then B x (int32 length, extras bytes). The structures of a batch are
computed one after the other (i-PI pads a short batch by repeating its last structure, which the
calculator's cache returns without recomputing): batching saves socket round trips, not model time.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from ipi.interfaces.sockets import HDRLEN, MESSAGE, Disconnected, DriverSocket

#: Seconds between two connection attempts while the server is not up yet.
RETRY_INTERVAL = 0.5


class ServerGone(ConnectionError):
    """The i-PI server closed or reset the connection without sending ``EXIT``."""


class ProtocolError(RuntimeError):
    """The server sent something this client does not speak (an unknown header, a malformed batch size)."""


@dataclass(frozen=True)
class Endpoint:
    """Where the i-PI server listens.

    ``unix=True``: the UNIX socket ``sockets_prefix + address`` (i-PI's convention,
    default ``/tmp/ipi_<address>``); else TCP ``address:port``.
    """

    address: str = "localhost"
    port: int = 12345
    unix: bool = False
    sockets_prefix: str = "/tmp/ipi_"

    def __str__(self) -> str:
        if self.unix:
            return f"unix socket {self.sockets_prefix + self.address}"
        return f"inet socket {self.address}:{self.port}"


def connect(endpoint: Endpoint, wait: float = 60.0) -> socket.socket:
    """A connected, blocking socket to ``endpoint``, retrying for up to ``wait`` seconds.

    Retrying lets a launcher start i-PI and the drivers together (i-PI takes a few
    seconds to open its socket). ``ConnectionError`` after ``wait`` seconds;
    ``socket.gaierror`` at once for an unknown host name.
    """
    deadline = time.monotonic() + wait
    while True:
        family = socket.AF_UNIX if endpoint.unix else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if endpoint.unix:
                sock.connect(endpoint.sockets_prefix + endpoint.address)
            else:
                # i-PI's messages are small: without NODELAY each one waits for Nagle's timer
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect((endpoint.address, endpoint.port))
            return sock
        except (FileNotFoundError, ConnectionRefusedError) as err:
            sock.close()
            if time.monotonic() >= deadline:
                raise ConnectionError(f"no i-PI server answered at {endpoint} within {wait:g} s "
                                      f"({type(err).__name__}: {err})") from None
            time.sleep(RETRY_INTERVAL)
        except BaseException:
            sock.close()
            raise


def _batch_size(init_string: str) -> int:
    """The ``batch_size:N`` token i-PI appends to INIT when the forcefield batches requests (else 1)."""
    for token in init_string.split(","):
        key, sep, value = token.partition(":")
        if sep and key.strip() == "batch_size":
            try:
                size = int(value.strip())
            except ValueError:
                size = 0
            if size < 1:
                raise ProtocolError(f"i-PI announced batch_size {value.strip()!r} in INIT; expected a positive "
                                    "integer")
            return size
    return 1


Compute = Callable[[np.ndarray, np.ndarray], tuple]


def serve(sock: socket.socket, compute: Compute, on_structure: Callable[[int], None] | None = None) -> int:
    """Answer i-PI's requests on ``sock`` with ``compute(cell, pos)`` until ``EXIT``.

    Parameters
    ----------
    sock
        A connected socket (see :func:`connect`); it is closed on return.
    compute
        i-PI's PES contract: ``(cell (3, 3), pos (n_atoms, 3))`` in Bohr ->
        ``(pot, force (n_atoms, 3), vir (3, 3), extras str)`` in Hartree units.
    on_structure
        Called with the running count after each structure (progress logging).

    Returns
    -------
    int
        The number of structures computed.

    Raises
    ------
    ServerGone
        The server closed or reset the connection before ``EXIT``.
    ProtocolError
        An unknown header or a malformed batch size.
    """
    channel = DriverSocket(sock)  # a dup of sock's descriptor with i-PI's recvall
    sock.close()
    n_structures = 0
    initialised = False
    batch = 1
    result = None
    try:
        while True:
            header = channel.recvall(np.zeros(HDRLEN, np.byte)).tobytes()
            if header == MESSAGE["status"]:
                state = "needinit" if not initialised else "havedata" if result is not None else "ready"
                channel.sendall(MESSAGE[state])
            elif header == MESSAGE["init"]:
                channel.recvall(np.int32())  # replica id: one model serves every replica
                length = int(channel.recvall(np.int32()))
                init_string = channel.recvall(np.zeros(length, np.byte)).tobytes().decode("utf-8", "replace")
                batch = _batch_size(init_string)
                initialised = True
            elif header == MESSAGE["posdata"]:
                result = []
                for cell, structure in zip(*_read_structures(channel, batch)):
                    result.append(compute(cell, structure))
                    n_structures += 1
                    if on_structure is not None:
                        on_structure(n_structures)
            elif header == MESSAGE["getforce"]:
                if result is None:
                    raise ProtocolError("i-PI asked for forces before sending positions")
                channel.sendall(_force_message(result))
                result = None
            elif header == MESSAGE["exit"]:
                return n_structures
            else:
                raise ProtocolError(f"unexpected message {header!r} from the i-PI server")
    except (Disconnected, ConnectionResetError, BrokenPipeError) as err:
        detail = f" ({type(err).__name__})" if not isinstance(err, Disconnected) else ""
        raise ServerGone(f"the i-PI server closed the connection without sending EXIT after "
                         f"{n_structures} structure(s){detail}") from None
    finally:
        channel.close()


def _read_structures(channel: DriverSocket, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells ``(batch, 3, 3)`` and positions ``(batch, n_atoms, 3)`` (Bohr) of one ``POSDATA`` message
    whose header was read: one structure (cell, inverse cell, n_atoms, positions) or a batch (n_atoms, the
    cells with their inverses, the positions)."""
    if batch == 1:
        cell = channel.recvall(np.zeros((3, 3), np.float64))
        channel.recvall(np.zeros((3, 3), np.float64))  # inverse cell, unused
        n_atoms = int(channel.recvall(np.int32()))
        return cell[None], channel.recvall(np.zeros((n_atoms, 3), np.float64))[None]
    n_atoms = int(channel.recvall(np.int32()))
    cells = channel.recvall(np.zeros((batch, 2, 3, 3), np.float64))  # cell, inverse cell
    return cells[:, 0], channel.recvall(np.zeros((batch, n_atoms, 3), np.float64))


def _force_message(results: list[tuple]) -> bytes:
    """The ``FORCEREADY`` reply of ``(pot, force, vir, extras)`` per structure, in one buffer (one send: lower
    latency, no half-sent reply). Batched layout: the potentials, n_atoms, the forces, the virials, then each
    structure's extras with its length; for one structure this is byte for byte i-PI's single reply."""
    forces = np.stack([np.ascontiguousarray(force, dtype=np.float64).reshape(-1, 3) for _, force, _, _ in results])
    virials = np.stack([np.ascontiguousarray(vir, dtype=np.float64).reshape(3, 3) for _, _, vir, _ in results])
    extras = [(extras or "").encode("utf-8") for *_, extras in results]
    return b"".join([
        MESSAGE["forceready"], np.array([pot for pot, *_ in results], np.float64).tobytes(),
        np.int32(forces.shape[1]).tobytes(), forces.tobytes(), virials.tobytes(),
        *(np.int32(len(item)).tobytes() + item for item in extras),
    ])
