"""Terminal tables: rich when writing to a terminal, aligned plain text otherwise."""
from __future__ import annotations

import sys
from typing import Any, Sequence


def format_value(value: Any) -> str:
    """A cell's text: floats with 4 decimals (4 significant digits when small or large), None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        return f"{value:.4g}" if abs(value) >= 1e4 or (value != 0 and abs(value) < 0.1) else f"{value:.4f}"
    return str(value)


def plain_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """Rows as aligned plain text (one header line, one line per row).

    Args:
        columns: header names.
        rows: cell values, one sequence per row.
        title: optional first line.

    Returns:
        The table as text (ending without a newline).
    """
    cells = [[format_value(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [title] if title else []
    lines.append("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells)
    return "\n".join(lines)


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None,
                file=None) -> None:
    """Print a table: a rich table on a terminal, plain text when redirected or captured.

    Args:
        columns: header names.
        rows: cell values, one sequence per row.
        title: optional title.
        file: stream (default ``sys.stdout``).
    """
    file = file if file is not None else sys.stdout
    if _is_tty(file):
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(format_value(v) for v in row))
        Console(file=file).print(table)
    else:
        print(plain_table(columns, rows, title), file=file)


def print_mapping(title: str, mapping: dict, file=None, indent: int = 0, raw: bool = False) -> None:
    """Print nested ``key: value`` lines (dicts indented; lists of scalars on one line).

    Args:
        title: a heading line (values are indented under it), or ``""``.
        mapping: the values.
        file: stream (default ``sys.stdout``).
        indent: starting indentation level.
        raw: show numbers as they are (for settings) instead of rounded (for metrics).
    """
    file = file if file is not None else sys.stdout
    show = (lambda v: "-" if v is None else str(v)) if raw else format_value
    pad = "  " * indent
    if title:
        print(f"{pad}{title}", file=file)
        pad += "  "
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            print(f"{pad}{key}:", file=file)
            print_mapping("", value, file, indent + (2 if title else 1), raw)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{pad}{key}: [{len(value)} entries]", file=file)
        elif isinstance(value, (list, dict)):
            print(f"{pad}{key}: {', '.join(map(show, value)) or '-'}", file=file)
        else:
            print(f"{pad}{key}: {show(value)}", file=file)


def _is_tty(file) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False
