"""The HTML page of one training step (nn.debug.trace(model).save_html): self-contained, one
panel per layer, drawings that are not blank, gradient-check failures in red, and rendered by a
real browser (headless Chromium: the page's own self-check script and a screenshot)."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import nnscratch as nn
from nnscratch import presets
from nnscratch.datasets import fashion_mnist
from nnscratch.debug import html_report
from nnscratch.exercises.mistakes import DenseBiasGradAveraged

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def lenet_page(tmp_path_factory):
    nn.utils.set_random_seed(0)
    (x, y), _ = fashion_mnist.load_data(source="sample")
    model, compile_kwargs, _ = presets.lenet()
    model.compile(**compile_kwargs)
    with nn.debug.trace(model) as tr:
        model.train_on_batch(presets.prepare_images(x[:8]), presets.prepare_labels(y[:8]))
    path = str(tmp_path_factory.mktemp("step") / "step.html")
    tr.save_html(path, title="LeNet step")
    return path, model


def test_page_is_self_contained_with_a_panel_per_layer(lenet_page):
    path, model = lenet_page
    text = open(path, encoding="utf-8").read()
    assert text.count('class="layer"') == len(model.layers) == 8
    for layer in model.layers:
        assert f'id="layer-{layer.name}"' in text
    srcs = re.findall(r'src="([^"]*)"', text)
    assert len(srcs) == 2 * len(model.layers) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r"(src|href)=[\"']?(https?:|//)|<link|@import|fetch\(", text)
    assert "Math:" in text and "cache key" in text  # formulas and cache behind each panel
    assert "dead ReLUs" in text and "upd/w" in text


def test_gradient_check_failures_are_red(tmp_path):
    nn.utils.set_random_seed(1)
    buggy = DenseBiasGradAveraged(3, name="buggy_out")  # logits: backward() runs (no fused softmax)
    model = nn.Sequential([nn.layers.Dense(4, activation="tanh", input_shape=(5,), name="hidden"), buggy])
    model.compile(optimizer="sgd", loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(0).standard_normal((6, 5)), np.array([0, 1, 2, 0, 1, 2])
    result = nn.debug.gradient_check(model, x, y)
    assert result["buggy_out/bias"] > 1e-3 and result["hidden/kernel"] < 1e-6
    with nn.debug.trace(model) as tr:
        model.train_on_batch(x, y)
    text = open(tr.save_html(str(tmp_path / "p.html"), gradcheck=result), encoding="utf-8").read()
    buggy_panel = text[text.index('id="layer-buggy_out"') - 30:]
    assert buggy_panel.startswith('<div class="layer bad"', buggy_panel.index("<div"))
    assert re.search(r'<span class="fail">bias \(3,\) gradcheck', text)
    assert re.search(r'<span class="ok">kernel \(5, 4\) gradcheck', text)
    alone = open(html_report.save_gradcheck_html(result, str(tmp_path / "g.html")), encoding="utf-8").read()
    assert '<tr class="fail"><td>buggy_out/bias' in alone and '<tr class="ok"><td>hidden/kernel' in alone


def test_save_html_before_any_step_says_so(tmp_path):
    model = nn.Sequential([nn.layers.Dense(2, input_shape=(3,))])
    with nn.debug.trace(model) as tr:
        pass
    with pytest.raises(RuntimeError, match="holds no step"):
        tr.save_html(str(tmp_path / "x.html"))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_lenet_page_renders_in_headless_chromium(lenet_page, tmp_path):
    path, model = lenet_page
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=10000", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(base + ["--dump-dom", "file://" + path], capture_output=True, text=True, timeout=180).stdout
    check = re.search(r'<p id="selfcheck"([^>]*)>', dom)
    assert check, "the page's self-check script did not run in Chromium"
    attrs = dict(re.findall(r'data-(\w+)="([^"]*)"', check.group(1)))
    assert attrs["panels"] == str(len(model.layers)), attrs
    assert attrs["images"] == str(2 * len(model.layers)) and attrs["blank"] == "0", attrs
    assert attrs["toggle"] == "ok", "clicking a layer does not open its cache and formulas"
    shot = tmp_path / "step.png"
    subprocess.run(base + ["--window-size=1200,1600", f"--screenshot={shot}", "file://" + path],
                   capture_output=True, timeout=180)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
    assert pixels.shape == (1600, 1200) and pixels.std() > 20, "the screenshot is (nearly) blank"
    keep = os.environ.get("NNSCRATCH_SCREENSHOT_DIR")
    if keep:  # CI keeps the screenshot as an artifact
        shutil.copy(shot, os.path.join(keep, "lenet_step.png"))


def test_cli_explain_writes_the_lenet_page(tmp_path):
    import sys

    out = tmp_path / "step.html"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    run = subprocess.run([sys.executable, "-m", "nnscratch", "explain", "--model", "lenet", "--out", str(out),
                          "--batch-size", "4"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count('class="layer"') == 8 and "one training step of lenet" in text
    bad = subprocess.run([sys.executable, "-m", "nnscratch", "explain", "--model", "resnet", "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1 and "unknown model 'resnet'" in bad.stderr


def test_backward_steps_page_has_every_dx_and_cache_snapshots(tmp_path):
    from nnscratch.debug import html_steps

    nn.utils.set_random_seed(2)
    model, compile_kwargs, _ = presets.lenet()
    model.compile(**compile_kwargs)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    path = html_steps.save_steps_html(model.backward_steps(x, np.array([0, 1, 2, 3])), str(tmp_path / "s.html"))
    text = open(path, encoding="utf-8").read()
    assert text.count('class="layer"') == 8 and "not computed in training" not in text
    assert "snapshot right after that layer" in text and text.count("cache key") == 8
    first = re.search(r'<div class="layer" id="layer-conv2d[^"]*">.*?upd/w ([^ <]+)', text, re.S)
    assert first and first.group(1)[0].isdigit(), "the update of the first layer was not recorded"
    assert re.search(r"\|dx\| \d", first.group(0)), "backward_steps computes the first layer's dx too"
