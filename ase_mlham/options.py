"""Settings dataclasses as command-line options: each setting is declared once, with its help.

A settings dataclass declares a field with :func:`setting` (default, help, optional flag, choices and
metavar); :func:`add_settings_arguments` turns its fields into ``argparse`` options and
:func:`settings_from_arguments` builds the dataclass back from the parsed namespace, so its
``__post_init__`` is the one place where the values are checked (for the Python API and the CLI
alike). Fields declared without help are not options.

    @dataclass(frozen=True)
    class MDSettings:
        steps: int = setting(1000, "number of MD steps")
        nve: bool = setting(False, "constant energy (velocity Verlet) instead of Langevin")

    add_settings_arguments(parser, MDSettings)          # --steps N, --nve
    settings = settings_from_arguments(MDSettings, args)
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Sequence, TypeVar

T = TypeVar("T")

#: Python types of the annotations an option may have (annotations are strings under
#: ``from __future__ import annotations``); ``X | None`` options take a value of type X.
_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def setting(default: Any, help: str, *, flag: str | None = None, choices: Sequence[Any] | None = None,
            metavar: str | None = None) -> Any:
    """A dataclass field that is also a command-line option.

    ``flag`` defaults to ``--`` plus the field name with ``-`` for ``_``. A boolean field is a switch:
    with default False its flag sets it to True, with default True its flag (e.g. ``--no-density-fit``,
    which must then be given) sets it to False.
    """
    metadata = {"help": help, "flag": flag, "choices": tuple(choices) if choices is not None else None,
                "metavar": metavar}
    return dataclasses.field(default=default, metadata={"option": metadata})


def _value_type(field: dataclasses.Field) -> type:
    annotation = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    name = annotation.replace(" ", "").removesuffix("|None")
    if name not in _TYPES:
        raise TypeError(f"setting {field.name!r}: options of type {annotation!r} are not supported")
    return _TYPES[name]


def option_fields(settings: type) -> list[dataclasses.Field]:
    """The fields of the dataclass ``settings`` declared with :func:`setting`."""
    return [field for field in dataclasses.fields(settings) if "option" in field.metadata]


def add_settings_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, settings: type,
                           skip: Sequence[str] = (), helps: dict[str, str] | None = None) -> None:
    """Add one option per :func:`setting` field of ``settings`` (except ``skip``), its default the field's.

    ``helps`` replaces the help of named fields where a command gives a setting a narrower role (its
    type, default and checks stay the setting's).
    """
    helps = dict(helps or {})
    unknown = sorted((set(helps) | set(skip)) - {field.name for field in option_fields(settings)})
    if unknown:
        raise ValueError(f"{settings.__name__} has no options {unknown}")
    for field in option_fields(settings):
        if field.name in skip:
            continue
        meta = dict(field.metadata["option"])
        meta["help"] = helps.get(field.name, meta["help"])
        kind = _value_type(field)
        flag = meta["flag"] or "--" + field.name.replace("_", "-")
        if kind is bool:
            if field.default and meta["flag"] is None:
                raise TypeError(f"setting {field.name!r} defaults to True: give the flag that turns it off")
            parser.add_argument(flag, dest=field.name, action="store_false" if field.default else "store_true",
                                help=meta["help"])
            continue
        parser.add_argument(flag, dest=field.name, type=kind, default=field.default, choices=meta["choices"],
                            metavar=meta["metavar"], help=meta["help"])


def settings_from_arguments(settings: type[T], args: argparse.Namespace, **values: Any) -> T:
    """``settings(...)`` from the parsed options of its fields, ``values`` added or replacing them."""
    parsed = {field.name: getattr(args, field.name) for field in option_fields(settings)
              if hasattr(args, field.name)}
    return settings(**{**parsed, **values})
