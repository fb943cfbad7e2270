"""``mlham-ipi`` in-process: exit codes and messages of the failures that happen before serving."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ipi", reason="i-PI is not installed (pip install ipi)")

from ipi_driver.cli import main  # noqa: E402


def test_bad_template_is_a_usage_error(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--template", str(tmp_path / "none.xyz"), "--model", str(tiny_model)]) == 2
    assert "mlham-ipi: error: mlham driver: template file" in capsys.readouterr().err


def test_no_server_within_the_timeout(tiny_model: Path, water_xyz: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["--unix", "--address", "mlhamtest-nobody-listens", "--template", str(water_xyz),
                 "--model", str(tiny_model), "--connect-timeout", "0.2"])
    assert code == 1
    assert ("mlham-ipi: error: no i-PI server answered at unix socket /tmp/ipi_mlhamtest-nobody-listens "
            "within 0.2 s") in capsys.readouterr().err


@pytest.mark.parametrize(("arguments", "message"), [
    (["--port", "70000"], "--port must be in 1..65535"),
    (["--connect-timeout", "-1"], "--connect-timeout must be >= 0"),
    (["--unix", "--inet"], "not allowed with argument"),
])
def test_argument_errors(arguments: list[str], message: str, water_xyz: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--template", str(water_xyz), *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
