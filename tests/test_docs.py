"""The documentation: README.md, CHANGELOG.md and docs/**/*.md.

* Every relative Markdown link resolves to a file or folder of the repository (anchors ignored).
* Every ``mlham ...`` and ``mlham-ipi ...`` command line in a fenced code block is accepted by its
  argument parser (``ase_mlham.cli.build_parser``, ``ipi_driver.cli.build_parser``): options renamed or
  removed in the code fail here, not in a
  user's terminal. Backslash continuations are joined; lines with shell syntax a line cannot hold
  (``$(``, pipes, here-documents, loops) are skipped; ``VAR=value``, ``nice`` and ``time`` prefixes,
  comments and redirections are removed; commands chained with ``&&`` or ``;`` are checked one by one;
  shell variables are replaced by ``1``. Commands run as ``python -m ase_mlham...`` are not checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])

FENCE = re.compile(r"^\s*(```|~~~)")
#: Inline links and images ``[text](target "title")`` and reference definitions ``[label]: target``.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...

#: Shell constructs a line-by-line parse cannot follow: such lines are skipped.
UNPARSABLE = re.compile(r"\$\(|\||<<|\bfor\s|\bwhile\s|\bdo\b|\bdone\b")
#: Separators after which a new command starts, and the tails that are not part of a command.
SEPARATORS = re.compile(r"\s+&&\s*|\s+;\s*|;\s+")
COMMENT = re.compile(r"\s+#.*$")
REDIRECT = re.compile(r"\s+\d?>.*$")
#: Shell variables (``$M``, ``${DB}``) inside a command: replaced by ``1``, which passes as a number, a name or a path.
SHELL_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")
#: ``VAR=value`` assignments, ``nice [-n N]`` and ``time`` before a command.
PREFIX = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+|nice\s+(?:-n\s*-?\d+\s+)?|time\s+)+")


def split_fences(text: str) -> tuple[list[str], list[str]]:
    """The lines outside fenced code blocks, and the lines inside them (fence lines dropped)."""
    prose, code, inside = [], [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        (code if inside else prose).append(line)
    return prose, code


def relative_links(path: Path) -> list[str]:
    """Link targets of a Markdown file that point into the repository (not URLs, not pure anchors)."""
    prose, _ = split_fences(path.read_text())
    targets = []
    for line in prose:
        line_without_code = INLINE_CODE.sub("", line)
        found = INLINE_LINK.findall(line_without_code)
        reference = REFERENCE_LINK.match(line_without_code)
        if reference:
            found.append(reference.group(1))
        targets += [t for t in found if not EXTERNAL.match(t) and not t.startswith("#")]
    return targets


def joined_lines(lines: list[str]) -> list[str]:
    """Code lines with backslash continuations joined into one."""
    joined, pending = [], ""
    for line in lines:
        stripped = line.strip() if pending else line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    if pending:
        joined.append(pending)
    return joined


def mlham_commands(path: Path) -> list[str]:
    """Each ``mlham`` and ``mlham-ipi`` command of the fenced code blocks of a file, prefixes and shell tails
    removed."""
    _, code = split_fences(path.read_text())
    commands = []
    for line in joined_lines(code):
        line = COMMENT.sub("", line).strip()
        if UNPARSABLE.search(line):
            continue
        for segment in SEPARATORS.split(line):
            segment = PREFIX.sub("", REDIRECT.sub("", segment).strip())
            segment = SHELL_VARIABLE.sub("1", segment)
            if segment.startswith(("mlham ", "mlham-ipi ")):
                commands.append(segment)
    return commands


def test_documents_exist():
    names = {path.relative_to(ROOT).as_posix() for path in DOCUMENTS}
    assert {"README.md", "CHANGELOG.md", "docs/index.md"} <= names


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    missing = []
    for target in relative_links(path):
        file_part = target.split("#", 1)[0]
        if file_part and not (path.parent / file_part).exists():
            missing.append(target)
    assert not missing, f"{path.relative_to(ROOT)}: links to missing files {missing}"


def test_commands_are_found():
    """The parser check below sees the README's main job and the how-to pages' commands."""
    readme = mlham_commands(ROOT / "README.md")
    assert "mlham md benzene --steps 200 --out runs/md-benzene" in readme
    assert sum(len(mlham_commands(path)) for path in DOCUMENTS) > 20
    assert any(command.startswith("mlham-ipi ") for command in mlham_commands(ROOT / "docs/how-to/ipi.md"))


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_mlham_commands_parse(path, capsys):
    from ase_mlham.cli import build_parser
    from ipi_driver.cli import build_parser as build_ipi_parser

    parsers = {"mlham": build_parser(), "mlham-ipi": build_ipi_parser()}
    rejected = []
    for command in mlham_commands(path):
        program, *arguments = shlex.split(command)
        try:
            parsers[program].parse_args(arguments)
        except SystemExit as exit_:
            if exit_.code not in (0, None):  # 0: --help
                message = capsys.readouterr().err.strip().splitlines() or [f"exit status {exit_.code}"]
                rejected.append(f"{command!r}: {message[-1]}")
    assert not rejected, f"{path.relative_to(ROOT)}: the parser rejects\n" + "\n".join(rejected)
