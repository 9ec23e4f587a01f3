"""HTML reports of a run and of a study: one offline file with every section, rendered in a real
headless Chromium (installed by .ci/run): not blank, no console messages, sections in the DOM."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import deepscope as tflearn
from deepscope.cli.main import main
from deepscope.datasets import toy
from deepscope.sweep import Study

RUN_SECTIONS = ("summary", "metrics", "curves", "diagnosis", "steps", "hyperparameters", "network")
STUDY_SECTIONS = ("summary", "table", "stability", "diagnoses", "parallel", "importance")
X, Y = toy.moons(128, seed=0)
Y1 = np.eye(2, dtype=np.float32)[Y]


def net(units=8, lr=0.1):
    n = tflearn.input_data([None, 2])
    n = tflearn.fully_connected(n, units, activation="relu")
    n = tflearn.fully_connected(n, 2, activation="softmax")
    return tflearn.regression(n, learning_rate=lr)


def chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def render(page: Path, tmp_path: Path) -> tuple[str, Path, str]:
    """(DOM after loading, screenshot path, Chromium's log) of ``page`` in headless Chromium."""
    browser = chromium()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    shot = tmp_path / f"{page.stem}.png"
    subprocess.run([*flags, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    return dom.stdout, shot, dom.stderr


def check_page(page: Path, sections, tmp_path: Path) -> None:
    text = page.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', text), "the report must work offline"
    assert "<script" not in text
    for name in sections:
        assert f'<section id="{name}">' in text
    if chromium() is None:
        pytest.skip("no Chromium here (.ci/run installs Debian's chromium)")
    dom, shot, log = render(page, tmp_path)
    for name in sections:
        assert f'id="{name}"' in dom, name
    assert ":CONSOLE(" not in log  # no console message at all (the page has no scripts)
    from matplotlib.image import imread
    pixels = imread(shot)
    assert pixels.shape[0] > 1000 and pixels[..., :3].std() > 0.05  # not blank


def test_run_report_in_a_browser(tmp_path):
    model = tflearn.DNN(net())
    model.fit(X, Y1, n_epoch=5, validation_set=0.25, show_metric=True, run_id="reported")
    report = tflearn.report(model, tmp_path / "run.html")
    assert report.path == tmp_path / "run.html" and "<iframe" in report._repr_html_()
    assert "Nothing wrong found" in report.path.read_text() or "finding" in report.path.read_text()
    check_page(report.path, RUN_SECTIONS, tmp_path)


def test_run_report_shows_the_settings_the_fit_used(tmp_path):
    prep = tflearn.ImagePreprocessing()
    prep.add_featurewise_zero_center()
    n = tflearn.input_data([None, 2], data_preprocessing=prep)
    n = tflearn.fully_connected(n, 2, activation="softmax")
    model = tflearn.DNN(tflearn.regression(n, optimizer=tflearn.SGD(learning_rate=0.1)))
    model.fit(X, Y1, n_epoch=1, batch_size=32, run_id="settings", diagnostics=False)
    text = tflearn.report(model, tmp_path / "run.html").path.read_text()
    network = text[text.index('<section id="network">'):]
    assert "data_preprocessing=ImagePreprocessing(featurewise_zero_center)" in network
    assert "optimizer=SGD(learning_rate=0.1)" in network and "__config__" not in network
    assert "batch_size=64" not in network  # regression's default; the fit ran at 32 (Hyperparameters says so)


def test_study_report_in_a_browser_and_from_the_cli(tmp_path, capsys):
    def train_fn(params, seed, run_id):
        model = tflearn.DNN(net(params["units"], params["lr"]))
        model.fit(X, Y1, n_epoch=2, validation_set=0.25, run_id=run_id)
        return {"val_acc": model.evaluate(X, Y1)[0]}

    study = Study("reported", train_fn, {"units": [2, 8], "lr": [0.01, 1.0]}, seeds=(0, 1), root=tmp_path / "runs",
                  verbose=False)
    study.run()
    path = tmp_path / "study.html"
    assert main(["report", str(study.folder), "-o", str(path)]) == 0
    text = path.read_text()
    assert "Optuna" in text and "stability map" in text and "units" in text
    check_page(path, STUDY_SECTIONS, tmp_path)


def test_report_needs_a_fitted_model():
    with pytest.raises(ValueError, match="fitted"):
        tflearn.report(tflearn.DNN(net()))
    with pytest.raises(TypeError, match="study.report"):
        tflearn.report(3)


def test_analyses_as_sections_of_the_run_report(tmp_path):
    from deepscope import brain, introspect
    rng = np.random.default_rng(0)
    images = rng.random((24, 12, 12, 1)).astype(np.float32)
    labels = np.eye(2, dtype=np.float32)[np.arange(24) % 2]
    n = tflearn.input_data([None, 12, 12, 1])
    n = tflearn.conv_2d(n, 3, 3, activation="relu", name="conv")
    n = tflearn.fully_connected(n, 2, activation="softmax", name="out")
    model = tflearn.DNN(tflearn.regression(n))
    model.fit(images, labels, n_epoch=1, run_id="sections", diagnostics=False)
    features = images.reshape(24, -1)
    region = np.stack([np.abs(features[:, None] - features[None]).mean(-1) + rng.normal(0, 0.01, (24, 24))
                       for _ in range(2)])
    region = (region + region.transpose(0, 2, 1)) / 2
    for r in region:
        np.fill_diagonal(r, 0)
    comparison = brain.compare(model, images, rdms={"V1": region}, n_bootstrap=20)
    atlas = introspect.layer_atlas(model, "conv", images, k=3, steps=10)
    report = tflearn.report(model, tmp_path / "run.html", sections=[comparison, atlas])
    text = report.path.read_text()
    assert '<section id="brain">' in text and '<section id="atlas-conv">' in text
    assert "Best layer per region" in text and text.count("data:image/png;base64") >= 3  # curves, brain, atlas
    again = tflearn.report(model.last_run.path, tmp_path / "again.html").path.read_text()  # kept in the run folder
    assert '<section id="brain">' in again and '<section id="atlas-conv">' in again
    check_page(report.path, (*RUN_SECTIONS, "brain", "atlas-conv"), tmp_path)
    with pytest.raises(TypeError, match="report_section"):
        tflearn.report(model, tmp_path / "x.html", sections=["not an analysis"])
