"""The real i-PI server with our driver processes: NVT over UNIX, PIMD over TCP, crashes, bad options.

Each test runs i-PI and the driver(s) as subprocesses in its own folder with a
unique socket; the ``launcher`` fixture kills them all at teardown.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest

pytest.importorskip("ipi", reason="i-PI is not installed (pip install ipi)")

from ase_mlham.calculator import MLHamCalculator  # noqa: E402
from ipi import read_output, read_trajectory  # noqa: E402
from ipi_driver import PES_FILE  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ipi"
N_STEPS = 20
STRIDE = 2


def _check_outputs(folder: Path, prefix: str, model: Path, n_steps: int, stride: int) -> None:
    """Properties every step; one gap per stride, equal to the calculator's at the written positions."""
    values, info = read_output(folder / f"{prefix}.out")
    np.testing.assert_array_equal(values["step"], np.arange(n_steps + 1))
    assert info["potential"][0] == "electronvolt"
    assert np.all(np.isfinite(values["conserved"]))

    extras = read_trajectory(str(folder / f"{prefix}.orb_0"), format="extras")
    expected_steps = np.arange(0, n_steps + 1, stride)
    np.testing.assert_array_equal(extras["step"], expected_steps)
    gaps = np.atleast_1d(extras["gap_eV"])
    assert gaps.shape == expected_steps.shape and np.all(np.isfinite(gaps))

    # format='ase' writes positions in Angstrom (ASE's constants) with 8 decimals
    frames = ase.io.read(folder / f"{prefix}.pos_0.extxyz", ":")
    assert [int(frame.info["ipi_comment"].split()[1]) for frame in frames] == list(expected_steps)
    calc = MLHamCalculator(model=model)
    for frame, step, gap in zip(frames, expected_steps, gaps):
        frame.pbc = False
        frame.calc = calc
        energy = frame.get_potential_energy()
        assert gap == pytest.approx(calc.get_homo_lumo_gap(), abs=1e-6)
        assert values["potential"][step] == pytest.approx(energy, abs=1e-6)
    # the molecule moved: the test is not comparing one frame with itself
    assert np.abs(frames[-1].positions - frames[0].positions).max() > 1e-3


def test_nvt_over_unix_socket(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """20 NVT steps of i-PI served by ``mlham-ipi``; EXIT ends the driver with status 0."""
    address = launcher.unix_address()
    ipi = launcher.ipi(launcher.ipi_input("nvt", N_STEPS, launcher.unix_socket_xml(address), stride=STRIDE))
    driver = launcher.driver("driver", "--unix", "--address", address, "--template", "init.xyz",
                             "--model", str(tiny_model), "--connect-timeout", "30")
    assert ipi.wait(timeout=120) == 0, launcher.log("ipi")
    assert driver.wait(timeout=10) == 0, launcher.log("driver")
    assert f"i-PI sent EXIT after {N_STEPS + 1} structure(s)" in launcher.log("driver")
    _check_outputs(launcher.folder, "nvt", tiny_model, N_STEPS, STRIDE)

    # the example's plotting script reads these very files
    if importlib.util.find_spec("matplotlib") is not None:
        plot = launcher.start("plot", [sys.executable, str(EXAMPLES / "plot_gap.py"), "nvt"])
        assert plot.wait(timeout=60) == 0, launcher.log("plot")
        assert (launcher.folder / "nvt_gap.png").stat().st_size > 0
        assert f"{N_STEPS // STRIDE + 1} frames" in launcher.log("plot")


def test_ipi_py_driver_custom_pes(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """i-PI's own client runs our PES file: ``i-pi-py_driver -m custom -P pes.py -o template=,model=``."""
    address = launcher.unix_address()
    ipi = launcher.ipi(launcher.ipi_input("custom", 4, launcher.unix_socket_xml(address)))
    # i-PI's client does not retry: wait for the socket
    launcher.wait_for(lambda: Path(f"/tmp/ipi_{address}").exists(), 30, "i-PI's socket", [ipi])
    driver = launcher.start("pydriver", [launcher.command("i-pi-py_driver"), "-m", "custom", "-P", str(PES_FILE),
                                         "-u", "-a", address, "-o", f"template=init.xyz,model={tiny_model}"])
    assert ipi.wait(timeout=120) == 0, launcher.log("ipi")
    assert driver.wait(timeout=10) == 0, launcher.log("pydriver")
    _check_outputs(launcher.folder, "custom", tiny_model, 4, 1)


def test_pimd_four_beads_two_drivers_inet(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """4 beads served by two ``mlham-ipi`` over TCP on 127.0.0.1; one gap file per bead."""
    n_steps = 20
    port = launcher.free_port()
    ipi_input = launcher.ipi_input("pimd", n_steps, launcher.inet_socket_xml(port), nbeads=4, timestep_fs=0.25)
    # Drivers first: they retry until i-PI listens, so both are connected when the run starts. Started
    # after i-PI, a slow-starting driver could arrive when a short run is already over and get a reset.
    drivers = [launcher.driver(f"driver{i}", "--inet", "--address", "127.0.0.1", "--port", str(port),
                               "--template", "init.xyz", "--model", str(tiny_model), "--connect-timeout", "60")
               for i in range(2)]
    launcher.wait_for(lambda: all("connecting to" in launcher.log(f"driver{i}") for i in range(2)), 60,
                      "both drivers", drivers)
    ipi = launcher.ipi(ipi_input)
    assert ipi.wait(timeout=120) == 0, launcher.log("ipi")
    served = []
    for i, driver in enumerate(drivers):
        assert driver.wait(timeout=10) == 0, launcher.log(f"driver{i}")
        served.append(int(launcher.log(f"driver{i}").split("EXIT after ")[1].split()[0]))
    assert sum(served) == 4 * (n_steps + 1)  # every bead at every step, shared between the drivers
    for bead in range(4):
        gaps = read_trajectory(str(launcher.folder / f"pimd.orb_{bead}"), format="extras")["gap_eV"]
        assert np.shape(gaps) == (n_steps + 1,) and np.all(np.isfinite(gaps))


def test_pimd_beads_in_batches_equal_one_at_a_time(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """i-PI's batched requests (4 beads per request, one driver) give the very trajectory of unbatched ones."""
    n_steps = 6
    potentials = {}
    for batch_size in (1, 4):
        address = launcher.unix_address()
        prefix = f"batch{batch_size}"
        ipi = launcher.ipi(launcher.ipi_input(prefix, n_steps, launcher.unix_socket_xml(address, batch_size),
                                              nbeads=4, timestep_fs=0.25), name=f"ipi{batch_size}")
        driver = launcher.driver(f"driver{batch_size}", "--unix", "--address", address, "--template", "init.xyz",
                                 "--model", str(tiny_model), "--connect-timeout", "30")
        assert ipi.wait(timeout=120) == 0, launcher.log(f"ipi{batch_size}")
        assert driver.wait(timeout=10) == 0, launcher.log(f"driver{batch_size}")
        assert f"i-PI sent EXIT after {4 * (n_steps + 1)} structure(s)" in launcher.log(f"driver{batch_size}")
        potentials[batch_size] = read_output(launcher.folder / f"{prefix}.out")[0]["potential"]
    assert len(potentials[4]) == n_steps + 1
    np.testing.assert_allclose(potentials[4], potentials[1], rtol=0, atol=1e-9)


def test_driver_exits_when_server_is_killed(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """kill -9 of i-PI mid-run: the driver exits within seconds, non-zero, saying why."""
    address = launcher.unix_address()
    ipi = launcher.ipi(launcher.ipi_input("long", 100000, launcher.unix_socket_xml(address)))
    driver = launcher.driver("driver", "--unix", "--address", address, "--template", "init.xyz",
                             "--model", str(tiny_model), "--verbose", "--connect-timeout", "30")
    launcher.wait_for(lambda: "structure 3 done" in launcher.log("driver"), 60, "3 structures", [ipi, driver])
    ipi.kill()
    ipi.wait(timeout=10)
    start = time.monotonic()
    returncode = driver.wait(timeout=10)
    assert time.monotonic() - start < 5.0
    assert returncode == 1
    assert "mlham-ipi: error: the i-PI server closed the connection without sending EXIT" in launcher.log("driver")


def _listener(address: str) -> socket.socket:
    """A UNIX socket where i-PI would listen, to prove that nobody connected to it."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(f"/tmp/ipi_{address}")
    listener.listen(1)
    listener.setblocking(False)
    return listener


def _assert_nobody_connected(listener: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_malformed_option_fails_before_connecting(launcher, tiny_model: Path, water_xyz: Path) -> None:
    """A bad ``-o`` (i-PI's client) or a missing model (``mlham-ipi``): clear error, no connection."""
    address = launcher.unix_address()
    with _listener(address) as listener:
        pydriver = launcher.start("pydriver", [launcher.command("i-pi-py_driver"), "-m", "custom", "-P",
                                               str(PES_FILE), "-u", "-a", address, "-o", f"template=init.xyz,model={tiny_model},temprature=300"])
        driver = launcher.driver("driver", "--unix", "--address", address, "--template", "init.xyz",
                                 "--model", "missing.pt")
        assert pydriver.wait(timeout=60) != 0
        assert driver.wait(timeout=60) == 2
        _assert_nobody_connected(listener)
    assert "unknown option(s) 'temprature'; accepted keys: template, model" in launcher.log("pydriver")
    assert "mlham-ipi: error: model file 'missing.pt' does not exist" in launcher.log("driver")
