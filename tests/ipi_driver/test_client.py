"""The socket client against a scripted server (no i-PI process, no model): protocol and disconnects."""

from __future__ import annotations

import json
import socket
import time

import numpy as np
import pytest

pytest.importorskip("ipi", reason="i-PI is not installed (pip install ipi)")

from ipi.interfaces.sockets import MESSAGE  # noqa: E402
from ipi_driver.client import Endpoint, ProtocolError, ServerGone, connect, serve  # noqa: E402

POSITIONS = np.arange(9, dtype=np.float64).reshape(3, 3) * 0.1


def fake_compute(cell: np.ndarray, pos: np.ndarray) -> tuple:
    """A PES whose outputs encode its inputs, to check what crossed the socket."""
    return float(pos.sum()), -2.0 * pos, cell + 1.0, json.dumps({"n": len(pos)})


def init_message(text: str = "") -> bytes:
    return MESSAGE["init"] + np.int32(0).tobytes() + np.int32(len(text)).tobytes() + text.encode()


def posdata_message(positions: np.ndarray = POSITIONS) -> bytes:
    cell = np.eye(3) * 20.0
    return (MESSAGE["posdata"] + cell.tobytes() + np.linalg.inv(cell).tobytes()
            + np.int32(len(positions)).tobytes() + positions.tobytes())


def read_exactly(sock: socket.socket, n_bytes: int) -> bytes:
    data = b""
    while len(data) < n_bytes:
        chunk = sock.recv(n_bytes - len(data))
        assert chunk, "the client closed early"
        data += chunk
    return data


def test_one_structure_then_exit() -> None:
    """The full exchange i-PI does per step, with the reply decoded field by field."""
    server, client = socket.socketpair()
    with server:
        server.sendall(MESSAGE["status"] + init_message("mlham") + MESSAGE["status"] + posdata_message()
                       + MESSAGE["status"] + MESSAGE["getforce"] + MESSAGE["status"] + MESSAGE["exit"])
        counts = []
        assert serve(client, fake_compute, on_structure=counts.append) == 1
        assert counts == [1]
        assert read_exactly(server, 12) == MESSAGE["needinit"]
        assert read_exactly(server, 12) == MESSAGE["ready"]
        assert read_exactly(server, 12) == MESSAGE["havedata"]
        assert read_exactly(server, 12) == MESSAGE["forceready"]
        pot = np.frombuffer(read_exactly(server, 8), np.float64)[0]
        n_atoms = np.frombuffer(read_exactly(server, 4), np.int32)[0]
        force = np.frombuffer(read_exactly(server, 8 * 3 * n_atoms), np.float64).reshape(n_atoms, 3)
        vir = np.frombuffer(read_exactly(server, 72), np.float64).reshape(3, 3)
        length = np.frombuffer(read_exactly(server, 4), np.int32)[0]
        extras = read_exactly(server, length).decode()
        assert read_exactly(server, 12) == MESSAGE["ready"]
    assert pot == POSITIONS.sum() and n_atoms == 3
    np.testing.assert_array_equal(force, -2.0 * POSITIONS)
    np.testing.assert_array_equal(vir, np.eye(3) * 20.0 + 1.0)
    assert json.loads(extras) == {"n": 3}


@pytest.mark.parametrize("script", [
    b"",  # closed while the client waits for a header
    MESSAGE["status"][:5],  # closed in the middle of a header
    MESSAGE["status"] + init_message() + posdata_message()[:40],  # in the middle of the positions
    MESSAGE["status"] + init_message() + posdata_message(),  # after positions, before GETFORCE
])
def test_server_gone_raises_at_once(script: bytes) -> None:
    """Every way the server can vanish ends ``serve`` with ServerGone: no hang, no busy loop."""
    server, client = socket.socketpair()
    server.sendall(script)
    server.close()
    start = time.monotonic()
    with pytest.raises(ServerGone, match="closed the connection without sending EXIT"):
        serve(client, fake_compute)
    assert time.monotonic() - start < 2.0


def test_a_batch_of_structures_then_exit() -> None:
    """i-PI's batched exchange (``batch_size:3`` in INIT): one POSDATA with three structures, one reply."""
    structures = [POSITIONS + 0.01 * k for k in range(3)]
    cells = [np.eye(3) * (20.0 + k) for k in range(3)]
    posdata = (MESSAGE["posdata"] + np.int32(3).tobytes()
               + b"".join(cell.tobytes() + np.linalg.inv(cell).tobytes() for cell in cells)
               + b"".join(positions.tobytes() for positions in structures))
    server, client = socket.socketpair()
    with server:
        server.sendall(MESSAGE["status"] + init_message("mlham, batch_size:3") + posdata + MESSAGE["getforce"]
                       + MESSAGE["exit"])
        counts = []
        assert serve(client, fake_compute, on_structure=counts.append) == 3
        assert counts == [1, 2, 3]
        assert read_exactly(server, 12) == MESSAGE["needinit"]
        assert read_exactly(server, 12) == MESSAGE["forceready"]
        pots = np.frombuffer(read_exactly(server, 3 * 8), np.float64)
        n_atoms = np.frombuffer(read_exactly(server, 4), np.int32)[0]
        forces = np.frombuffer(read_exactly(server, 3 * 8 * 3 * n_atoms), np.float64).reshape(3, n_atoms, 3)
        virials = np.frombuffer(read_exactly(server, 3 * 72), np.float64).reshape(3, 3, 3)
        extras = []
        for _ in range(3):
            length = np.frombuffer(read_exactly(server, 4), np.int32)[0]
            extras.append(json.loads(read_exactly(server, length).decode()))
    assert n_atoms == 3 and extras == [{"n": 3}] * 3
    for k in range(3):
        assert pots[k] == structures[k].sum()
        np.testing.assert_array_equal(forces[k], -2.0 * structures[k])
        np.testing.assert_array_equal(virials[k], cells[k] + 1.0)


@pytest.mark.parametrize("value", ["0", "four"])
def test_malformed_batch_size_refused(value: str) -> None:
    server, client = socket.socketpair()
    with server:
        server.sendall(MESSAGE["status"] + init_message(f"batch_size:{value}"))
        with pytest.raises(ProtocolError, match=f"i-PI announced batch_size '{value}' in INIT; expected a positive"):
            serve(client, fake_compute)


def test_unknown_header_refused() -> None:
    server, client = socket.socketpair()
    with server:
        server.sendall(b"HELLOWORLD  ")
        with pytest.raises(ProtocolError, match=r"unexpected message b'HELLOWORLD  '"):
            serve(client, fake_compute)


def test_connect_gives_up_after_the_wait() -> None:
    endpoint = Endpoint(address="mlhamtest-nobody-listens", unix=True)
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=r"no i-PI server answered at unix socket /tmp/ipi_mlhamtest-nobody"):
        connect(endpoint, wait=0.3)
    assert time.monotonic() - start < 2.0


def test_connect_inet() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        endpoint = Endpoint(address="127.0.0.1", port=listener.getsockname()[1])
        with connect(endpoint, wait=1.0) as sock:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert str(endpoint) == f"inet socket 127.0.0.1:{endpoint.port}"
