"""Titanic passengers (TFlearn's quickstart): ``titanic.download_dataset('titanic_dataset.csv')``.

Source: the OpenML copy of the 1,309-passenger table (titanic3), sha256-verified and cached in
``ROOT/titanic``, then written in TFlearn's column layout ``survived, pclass, name, sex, age,
sibsp, parch, ticket, fare`` (the file TFlearn's quickstart reads with ``load_csv(...,
target_column=0, categorical_labels=True, n_classes=2)``). Missing ages and fares (263 and 1
passengers) are written as 0, since the quickstart converts every kept column to a number.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .._io import atomic_write_text
from ._formats import DatasetFormatError
from .registry import load_with_recovery

COLUMNS = ("survived", "pclass", "name", "sex", "age", "sibsp", "parch", "ticket", "fare")


def download_dataset(filename: str = "titanic_dataset.csv", work_directory: str | os.PathLike = "./",
                     data_dir: str | os.PathLike | None = None, verbose: bool = True) -> str:
    """Write TFlearn's ``titanic_dataset.csv`` into ``work_directory`` (downloading the table once).

    Returns:
        The path of the CSV.
    """
    rows = load_with_recovery("titanic", data_dir, _parse, verbose)
    target = Path(work_directory) / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    atomic_write_text(target, out.getvalue())
    return str(target)


def _parse(paths) -> list[list[str]]:
    try:
        with open(paths[0], newline="", encoding="utf-8") as f:
            table = list(csv.DictReader(f))
        rows = [[r["survived"], r["pclass"], r["name"], r["sex"], _number(r["age"]), r["sibsp"], r["parch"],
                 r["ticket"], _number(r["fare"])] for r in table]
    except (KeyError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetFormatError(f"{paths[0]}: not the OpenML Titanic table ({err})") from err
    if not rows:
        raise DatasetFormatError(f"{paths[0]}: no passengers")
    return rows


def _number(text: str) -> str:
    try:
        float(text)
        return text
    except ValueError:  # OpenML writes '?' for a missing value
        return "0"


def load_dataset():
    """TFlearn declares it and raises (never written); deepscope says what to use."""
    raise NotImplementedError("tflearn.datasets.titanic.load_dataset is not written in TFlearn either: "
                              "download_dataset() gives the CSV; read it with data_utils.load_csv(path, "
                              "target_column=0, categorical_labels=True, n_classes=2).")
