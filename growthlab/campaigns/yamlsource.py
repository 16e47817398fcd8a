"""YAML that remembers where every value came from, so errors can name the file and the line.

PyYAML's composer keeps a `start_mark` on every node; `load_located` turns the node tree into plain
Python values plus a map from each value's path (a tuple of keys and list indexes) to its line.
Duplicate keys, which plain `yaml.safe_load` silently collapses, are an error here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class LocatedError(ValueError):
    """A problem in a source file: `file:line: reason`. Raised before anything is sent."""

    def __init__(self, file: str | Path, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {reason}")


@dataclass
class Located:
    """A parsed YAML document: its value and the line (1-based) of every path in it."""

    file: str
    value: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def error(self, path: Path_, reason: str) -> LocatedError:
        return LocatedError(self.file, self.line_of(path), reason)


def _convert(node: yaml.Node, path: Path_, lines: dict[Path_, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise LocatedError(
                    file, key_node.start_mark.line + 1, "YAML merge keys (<<) are not supported"
                )
            key = (
                yaml.SafeLoader.construct_scalar(_LOADER, key_node)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str):
                raise LocatedError(file, key_node.start_mark.line + 1, "mapping keys must be plain strings")
            if key in out:
                raise LocatedError(
                    file,
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first defined on line "
                    f"{lines[(*path, key)]}); remove one of them",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, (*path, key), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), lines, file) for i, item in enumerate(node.value)]
    return _LOADER.construct_object(node, deep=True)


class _ScalarLoader(yaml.SafeLoader):
    """A SafeLoader used only to construct scalars with YAML's usual typing (ints, bools, dates)."""


_LOADER = _ScalarLoader("")


def load_located(path: Path) -> Located:
    """Parse one YAML file; syntax errors become a `LocatedError` naming the line."""
    text = path.read_text(encoding="utf-8")
    return loads_located(text, str(path))


# libyaml's composer when available (ten times faster; same nodes and marks).
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads_located(text: str, file: str) -> Located:
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise LocatedError(file, line, f"YAML syntax error: {reason}") from None
    except yaml.YAMLError as exc:
        raise LocatedError(file, None, f"YAML error: {exc}") from None
    if node is None:
        raise LocatedError(file, 1, "the file is empty; a campaign definition is a YAML mapping")
    lines: dict[Path_, int] = {}
    value = _convert(node, (), lines, file)
    return Located(file=file, value=value, lines=lines)
