"""Fixtures for the i-PI driver tests: a tiny random model, a water template, i-PI inputs, processes.

Everything here is self-contained (no ``../shared``): the model is a random ``tiny``
preset saved to a temporary folder. Every subprocess is killed at teardown and every
UNIX socket a test names is unique and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

#: The repository root: put first on the subprocesses' PYTHONPATH so they run this checkout.
REPO = Path(__file__).resolve().parents[2]

#: Water, Angstrom; a random tiny model gives it a non-degenerate HOMO-LUMO gap.
WATER_XYZ = """3
# CELL(abcABC):   20.00000    20.00000    20.00000    90.00000    90.00000    90.00000  positions{angstrom}  cell{angstrom}
O       0.000000    0.000000    0.119262
H       0.000000    0.763239   -0.477047
H       0.000000   -0.763239   -0.477047
"""

SOCKETS_PREFIX = "/tmp/ipi_"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random ``tiny`` model saved to a file (what ``model=`` options point at)."""
    from ase_mlham.model.io import save_model
    from ase_mlham.model.testing import random_tiny_model

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(random_tiny_model(seed=0), path)
    return path


@pytest.fixture
def water_xyz(tmp_path: Path) -> Path:
    """``init.xyz`` in i-PI's format (its CELL comment line) in the test's folder."""
    path = tmp_path / "init.xyz"
    path.write_text(WATER_XYZ)
    return path


def ipi_input(prefix: str, steps: int, socket_xml: str, nbeads: int = 1, stride: int = 1,
              timestep_fs: float = 0.5) -> str:
    """An i-PI NVT (nbeads=1) or PIMD input: properties every step, positions and gap extras every ``stride``."""
    thermostat = ("<thermostat mode='svr'><tau units='femtosecond'> 50 </tau></thermostat>" if nbeads == 1
                  else "<thermostat mode='pile_l'><tau units='femtosecond'> 100 </tau></thermostat>")
    return f"""<simulation verbosity='low' safe_stride='1000'>
  <output prefix='{prefix}'>
    <properties stride='1' filename='out'> [ step, time{{picosecond}}, conserved{{electronvolt}}, potential{{electronvolt}} ] </properties>
    <trajectory filename='pos' stride='{stride}' format='ase'> positions </trajectory>
    <trajectory filename='orb' stride='{stride}' extra_type='gap_eV'> extras </trajectory>
  </output>
  <total_steps> {steps} </total_steps>
  <prng> <seed> 12345 </seed> </prng>
  {socket_xml}
  <system>
    <initialize nbeads='{nbeads}'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces> <force forcefield='mlham'/> </forces>
    <motion mode='dynamics'>
      <dynamics mode='nvt'>
        <timestep units='femtosecond'> {timestep_fs} </timestep>
        {thermostat}
      </dynamics>
    </motion>
    <ensemble> <temperature units='kelvin'> 300 </temperature> </ensemble>
  </system>
</simulation>
"""


def unix_socket_xml(address: str, batch_size: int = 1) -> str:
    """``batch_size > 1``: i-PI sends that many structures per request (i-PI >= 3.3)."""
    batch = f" <batch_size> {batch_size} </batch_size>" if batch_size > 1 else ""
    return (f"<ffsocket name='mlham' mode='unix' pbc='false'> <address> {address} </address> "
            f"<latency> 1e-4 </latency>{batch} </ffsocket>")


def inet_socket_xml(port: int) -> str:
    return (f"<ffsocket name='mlham' mode='inet' pbc='false'> <address> 127.0.0.1 </address> "
            f"<port> {port} </port> <latency> 1e-4 </latency> </ffsocket>")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str, processes: list[subprocess.Popen] = ()) -> None:
    """Poll ``condition()`` every 0.1 s; fail naming ``what`` after ``timeout`` s or if a process died."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args} exited with {process.returncode} while waiting for {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class Launcher:
    """Start subprocesses with logs in a folder; :meth:`cleanup` kills whatever still runs.

    The module's helpers are attributes too, since test modules cannot import a conftest.
    """

    ipi_input = staticmethod(ipi_input)
    unix_socket_xml = staticmethod(unix_socket_xml)
    inet_socket_xml = staticmethod(inet_socket_xml)
    free_port = staticmethod(free_port)
    wait_for = staticmethod(wait_for)

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.sockets: list[Path] = []
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        # one thread per process: the machine's cores are shared by i-PI and the drivers
        self.env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def unix_address(self) -> str:
        """A unique socket name, removed at cleanup (i-PI leaves it behind when killed)."""
        address = f"mlhamtest-{uuid.uuid4().hex[:10]}"
        self.sockets.append(Path(SOCKETS_PREFIX + address))
        return address

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        stdout = open(self.folder / f"{name}.stdout", "w")
        stderr = open(self.folder / f"{name}.stderr", "w")
        process = subprocess.Popen(command, cwd=self.folder, stdout=stdout, stderr=stderr, env=self.env)
        stdout.close()
        stderr.close()
        process.name = name
        self.processes.append(process)
        return process

    @staticmethod
    def command(name: str) -> str | None:
        """A console script's path (see :func:`command`)."""
        return command(name)

    def ipi(self, input_xml: str, name: str = "ipi") -> subprocess.Popen:
        (self.folder / f"{name}.xml").write_text(input_xml)
        return self.start(name, [command("i-pi"), f"{name}.xml"])

    def driver(self, name: str, *arguments: str) -> subprocess.Popen:
        """``mlham-ipi`` (run as ``python -m ipi_driver.cli``, the same ``main``)."""
        return self.start(name, [sys.executable, "-m", "ipi_driver.cli", *arguments])

    def log(self, name: str) -> str:
        return "\n".join((self.folder / f"{name}.{stream}").read_text() for stream in ("stdout", "stderr"))

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        for path in self.sockets:
            path.unlink(missing_ok=True)


def command(name: str) -> str | None:
    """The path of console script ``name``: next to ``sys.executable`` (the environment running the tests,
    activated or not), else on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


@pytest.fixture
def launcher(tmp_path: Path):
    """A :class:`Launcher` in the test's folder; kills its processes even when the test fails."""
    if command("i-pi") is None or command("i-pi-py_driver") is None:
        pytest.skip("the i-pi and i-pi-py_driver commands are neither beside sys.executable nor on PATH")
    launcher = Launcher(tmp_path)
    try:
        yield launcher
    finally:
        launcher.cleanup()
