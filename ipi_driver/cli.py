"""``mlham-ipi``: serve an ase-mlham model to an i-PI server over a socket.

Examples::

    mlham-ipi --unix --address mlham --template init.xyz --model model.pt
    mlham-ipi --inet --address 127.0.0.1 --port 31415 --template init.xyz

Exit status: 0 when i-PI sends EXIT (the simulation ended); 1 when the server
cannot be reached, closes the connection early (stopped or crashed) or a
structure cannot be computed; 2 for bad options, detected before connecting.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ase_mlham.calculator import CalculatorSettings
from ase_mlham.options import add_settings_arguments


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (separate from :func:`main` so that tests and docs can inspect it)."""
    parser = argparse.ArgumentParser(
        prog="mlham-ipi",
        description="i-PI socket driver for ase-mlham: energies and forces of an isolated molecule, "
                    "plus orbital energies and the HOMO-LUMO gap as JSON extras at every step. "
                    "The cell i-PI sends is ignored (gas phase) and the virial returned is zero.")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("-u", "--unix", action="store_true",
                      help="connect to a UNIX domain socket <sockets-prefix><address>")
    kind.add_argument("--inet", action="store_true", help="connect over TCP/IP (the default)")
    parser.add_argument("-a", "--address", default="localhost",
                        help="host name (inet) or socket name (unix), as in i-PI's <ffsocket><address>")
    parser.add_argument("-p", "--port", type=int, default=12345, help="TCP port (inet only)")
    parser.add_argument("-S", "--sockets-prefix", default="/tmp/ipi_",
                        help="prefix of UNIX socket paths, as i-PI's <simulation sockets_prefix> (unix only)")
    parser.add_argument("-t", "--template", required=True,
                        help="structure file with the elements in i-PI's atom order (e.g. i-PI's init.xyz)")
    add_settings_arguments(parser, CalculatorSettings, helps={
        "excitations": "sTDA excitations per step in the extras (0: none)"})
    # the option's name before it was shared with `mlham md` and `mlham spectrum`
    parser.add_argument("--n-excitations", dest="excitations", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--connect-timeout", type=float, default=60.0,
                        help="seconds to keep retrying while the server is not listening yet")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every structure served")
    return parser


def _error(message: str) -> None:
    print(f"mlham-ipi: error: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the driver; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in 1..65535, got {args.port}")
    if args.connect_timeout < 0:
        parser.error(f"--connect-timeout must be >= 0, got {args.connect_timeout}")

    from ipi_driver.client import Endpoint, ProtocolError, ServerGone, connect, serve
    from ipi_driver.pes import MLHamDriver

    try:
        driver = MLHamDriver(template=args.template, model=args.model, device=args.device, dtype=args.dtype,
                             n_excitations=args.excitations, verbose=args.verbose)
    except (ValueError, TypeError, OSError) as err:  # every option problem, before connecting
        _error(str(err))
        return 2

    endpoint = Endpoint(address=args.address, port=args.port, unix=args.unix, sockets_prefix=args.sockets_prefix)
    print(f"mlham-ipi: model ready, connecting to {endpoint} (waiting up to {args.connect_timeout:g} s)", flush=True)
    try:
        sock = connect(endpoint, wait=args.connect_timeout)
    except ConnectionError as err:  # its message names the endpoint already
        _error(str(err))
        return 1
    except OSError as err:  # e.g. an unknown host name
        _error(f"cannot connect to {endpoint}: {err}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    print(f"mlham-ipi: connected to {endpoint}", flush=True)

    def log(count: int) -> None:
        if args.verbose:
            print(f"mlham-ipi: structure {count} done", flush=True)

    try:
        count = serve(sock, driver, on_structure=log)
    except ServerGone as err:
        _error(f"{err}; did i-PI stop or crash? Exiting (restart the driver with the server).")
        return 1
    except ProtocolError as err:
        _error(str(err))
        return 1
    except ValueError as err:  # the calculator refuses a structure (e.g. atoms closer than 0.5 A)
        _error(f"cannot compute the structure i-PI sent: {err}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    print(f"mlham-ipi: i-PI sent EXIT after {count} structure(s); bye", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
