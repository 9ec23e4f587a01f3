"""A tutorial executed as a real notebook (nbclient + ipykernel): training shows as one HTML
display updated in place, ends with its metrics, no warnings, and a fit cell echoes a readable model."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = Path(__file__).resolve().parents[1] / "examples" / "tutorials"


def notebook_from_script(path: Path):
    """A ``# %%`` script as a notebook: one code cell per ``# %%`` block, markdown for ``# %% [markdown]``."""
    cells, kind, lines = [], "code", []

    def close():
        text = "\n".join(lines).strip("\n")
        if text:
            if kind == "markdown":
                cells.append(nbformat.v4.new_markdown_cell(re.sub(r"^# ?", "", text, flags=re.M)))
            else:
                cells.append(nbformat.v4.new_code_cell(text))

    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            close()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            if kind == "code" and line[4:].strip():
                lines.append(f"# {line[4:].strip()}")
        else:
            lines.append(line)
    close()
    return nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                          "display_name": "Python 3"}})


def test_mlp_tutorial_runs_as_a_notebook_with_live_progress(shared_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSCOPE_DATA", str(shared_datasets))
    monkeypatch.setenv("DEEPSCOPE_QUICK", "1")
    monkeypatch.setenv("DEEPSCOPE_RUNS", str(tmp_path / "runs"))
    notebook = notebook_from_script(TUTORIALS / "03_mlp.py")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [(i, out) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
               for out in cell.get("outputs", [])]
    progress = [(i, out) for i, out in outputs if out.output_type == "display_data"
                and "deepscope-progress" in out.get("data", {}).get("text/html", "")]
    fit_cells = {i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and ".fit(" in cell.source}
    assert fit_cells and {i for i, _ in progress} == fit_cells
    assert len(progress) == len(fit_cells)  # one display per fit, updated in place (display_id)
    final = progress[-1][1]["data"]["text/html"]
    assert "Training finished" in final and "loss" in final and "steps" in final
    assert progress[-1][1].get("transient", {}).get("display_id") or progress[-1][1].get("metadata") is not None
    streams = "".join(out.get("text", "") for _, out in outputs if out.output_type == "stream")
    assert "Warning" not in streams and "ipywidgets" not in streams
    echoed = "".join(out.get("data", {}).get("text/plain", "") for _, out in outputs if out.output_type == "execute_result")
    assert "at 0x" not in echoed
