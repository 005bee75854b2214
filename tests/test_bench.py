"""The benchmark suite (nnscratch/bench, benchmarks/): workload definitions in every installed
engine, the GEMM plan and floor, the report's ratios, the ``nnscratch bench`` flags, the runner
loop on a stand-in child, and ``python -m benchmarks gpu`` on the emulated backend. No timing
assertions: only structure, arithmetic and that every piece runs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnscratch import backend, cli
from nnscratch.bench import command, data as data_mod, engines, report, runner
from nnscratch.bench.workloads import BY_NAME, MODELS, ONE_HOT, epoch_flops, epoch_plan, flops, gemms

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- workloads in each engine
def _engine(name):
    eng = engines.get(name)
    ok, why = eng.available()
    if not ok:
        pytest.skip(f"{name}: {why}")
    return eng


def _count_params(name, model):
    if name == "torch":
        return sum(p.numel() for p in model["model"].parameters())
    return int(model.count_params())


@pytest.mark.parametrize("engine", engines.ENGINES)
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_every_model_trains_and_predicts_in_every_installed_engine(engine, model_name):
    eng = _engine(engine)
    if engine == "keras":
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    spec = MODELS[model_name]
    rng = np.random.default_rng(0)
    x = rng.random((30,) + tuple(spec["input"]), dtype=np.float32)
    y = rng.integers(0, 10, size=30)
    if spec["loss"] == ONE_HOT:
        y = data_mod.one_hot(y)
    model = eng.build(model_name, 0)
    split = 0.2 if model_name == "mnist_convnet" else 0.0  # the Keras example's fit(validation_split=)
    loss = eng.train_epoch(model, x, y, 8, split)
    assert np.isfinite(loss) and loss > 0
    probs = np.asarray(eng.predict(model, x[:12], 5))
    assert probs.shape == (12, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


# the parameter counts the twins must share (Keras's model.summary() of the same layers)
PARAMS = {"mlp": 784 * 128 + 128 + 128 * 10 + 10,
          "mnist_convnet": (9 * 32 + 32) + (9 * 32 * 64 + 64) + (5 * 5 * 64 * 10 + 10),  # 34,826
          "lenet": (9 * 6 + 6) + (9 * 6 * 16 + 16) + (576 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)}


@pytest.mark.parametrize("engine", engines.ENGINES)
@pytest.mark.parametrize("model_name", sorted(PARAMS))
def test_twins_have_the_same_parameter_count(engine, model_name):
    eng = _engine(engine)
    assert _count_params(engine, eng.build(model_name, 0)) == PARAMS[model_name]


def test_mnist_convnet_is_the_keras_example():
    spec = MODELS["mnist_convnet"]
    assert spec["loss"] == "categorical_crossentropy" and spec["input"] == (28, 28, 1)
    assert spec["layers"] == [("conv", 32, 3, "valid"), ("maxpool", 2), ("conv", 64, 3, "valid"), ("maxpool", 2),
                              ("flatten",), ("dropout", 0.5), ("dense", 10, "softmax")]
    w = BY_NAME["mnist_convnet_train_b128"]
    assert (w.batch, w.images, w.validation_split) == (128, 60000, 0.1)
    assert w.split(False) == (54000, 6000)


# ----------------------------------------------------------------------------- GEMM plan and floor
def test_gemms_of_the_mnist_convnet_step():
    # conv1: im2col (B*26*26, 9) @ (9, 32); conv2: (B*11*11, 288) @ (288, 64); dense: (B, 1600) @ (1600, 10)
    assert gemms("mnist_convnet", 2, train=False) == [(2 * 676, 9, 32), (2 * 121, 288, 64), (2, 1600, 10)]
    train = gemms("mnist_convnet", 2, train=True)
    assert (9, 2 * 676, 32) in train and (2 * 676, 32, 9) not in train  # no input gradient for the first layer
    assert (2 * 121, 64, 288) in train and (2, 10, 1600) in train
    assert flops("mnist_convnet", 2, False) == 2 * (1352 * 9 * 32 + 242 * 288 * 64 + 2 * 1600 * 10)


def test_epoch_plan_counts_full_partial_and_validation_batches():
    w = BY_NAME["mnist_convnet_train_b128"]
    # 54,000 trained = 421 x 128 + 112; 6,000 validated = 46 x 128 + 112
    assert epoch_plan(w) == [(421, 128, True), (1, 112, True), (46, 128, False), (1, 112, False)]
    expected = (421 * flops("mnist_convnet", 128, True) + flops("mnist_convnet", 112, True)
                + 46 * flops("mnist_convnet", 128, False) + flops("mnist_convnet", 112, False))
    assert epoch_flops(w) == expected
    assert epoch_plan(BY_NAME["mlp_infer_b1000"]) == [(10, 1000, False)]
    warm = w.warmup_images()
    n_val = warm - int(warm * 0.9)
    assert n_val > w.batch and n_val % w.batch  # the warm-up validates a full and a partial batch


def test_gemm_measure_gives_a_floor_per_requested_workload(monkeypatch):
    from nnscratch.bench import gemm

    calls = []
    monkeypatch.setattr(gemm, "time_gemm", lambda M, K, N, **kw: calls.append((M, K, N)) or 1e-3)
    monkeypatch.setattr(gemm, "threadpool_limits", None)
    out = gemm.measure(quick=True, names=["mlp_infer_b1000"])
    assert set(out["floor_seconds"]) == {"mlp_infer_b1000"}
    # 10 predict steps of two products, each timed once at 1 ms
    assert out["floor_seconds"]["mlp_infer_b1000"] == pytest.approx(10 * 2 * 1e-3)
    assert calls[:2] == [(1000, 784, 128), (1000, 128, 10)]


# ----------------------------------------------------------------------------- report on synthetic results
def _synthetic():
    def s(median, mb=100.0, n=60000):
        return {"median_s": median, "min_s": median * 0.9, "max_s": median * 1.1, "reps": 3,
                "images_per_s": n / median, "peak_rss_mb": mb, "images": n}

    return {
        "command": "nnscratch bench", "started": "2026-01-01 00:00:00 UTC", "wall_s": 60.0, "quick": False, "reps": 3,
        "engines": ["nnscratch", "torch", "keras"], "workloads": ["mnist_convnet_train_b128", "lenet_train_b64"],
        "machine": {"cpu": "test cpu", "logical_cores": 2, "memory_gib": 1.0, "platform": "test", "python": "3.x",
                    "threads_per_engine": 2, "numpy_blas": "[]", "unset_for_children": "none were set",
                    "load_average_at_start": [0.0, 0.0, 0.0]},
        "load_average_at_end": [0.0, 0.0, 0.0], "notes": [], "data": "synthetic", "versions": {},
        "samples": [{"engine": "keras", "workload": "lenet_train_b64", "rep": 0, "error": "exit 1: boom"}],
        "summary": {"nnscratch": {"mnist_convnet_train_b128": s(22.0, 300), "lenet_train_b64": s(6.0)},
                    "torch": {"mnist_convnet_train_b128": s(11.0, 600), "lenet_train_b64": s(5.0)},
                    "keras": {"mnist_convnet_train_b128": s(10.0)}},
        "gemm": {"peak_gflops": 100.0, "peak_shape": [8, 8, 8], "shapes": [{"M": 1, "K": 2, "N": 3, "gflops": 1.0}],
                 "floor_seconds": {"mnist_convnet_train_b128": 4.0}},
    }


def test_rows_compute_ratios_and_the_distance_from_the_gemm_floor():
    by = {r["workload"]: r for r in report.rows(_synthetic())}
    r = by["mnist_convnet_train_b128"]
    assert r["ratio"] == {"torch": pytest.approx(2.0), "keras": pytest.approx(2.2)}
    assert r["floor_s"] == 4.0 and r["x_floor"]["nnscratch"] == pytest.approx(5.5)
    assert r["x_floor"]["torch"] == pytest.approx(2.75)
    assert r["gflop"] == pytest.approx(epoch_flops(BY_NAME["mnist_convnet_train_b128"]) / 1e9)
    assert r["gflops"]["nnscratch"] == pytest.approx(r["gflop"] / 22.0)
    assert r["target"] == 1.0
    lenet = by["lenet_train_b64"]
    assert lenet["ratio"]["keras"] is None and lenet["floor_s"] is None and lenet["x_floor"]["nnscratch"] is None


def test_terminal_table_and_markdown_show_ratios_floor_and_failures():
    res = _synthetic()
    table = report.terminal_table(res)
    head, _, convnet, lenet = table.splitlines()
    assert "nnscratch/torch" in head and "GEMM floor s" in head and "nnscratch x floor" in head
    assert convnet.split()[1:] == ["22.000", "11.000", "10.000", "2.00", "2.20", "<=", "1.0", "4.000", "5.5"]
    assert lenet.split()[3] == "n/a"
    md = report.markdown(res)
    assert "| mnist_convnet_train_b128 | 60000 | 22.000 s (19.800-24.200) |" in md
    assert "| 2.00 | 2.20 | 4.000 s | 5.5 | 2.8 | 2.5 |" in md
    assert "| mnist_convnet_train_b128 | 2.00 | 2.00 | <= 1.0 | NO | 0.50 |" in md  # targets (issue 17)
    assert "keras lenet_train_b64 rep 0: exit 1: boom" in md


def test_runner_loop_writes_json_markdown_png_with_a_progress_line_per_run(tmp_path, monkeypatch):
    calls = []

    def fake_child(module, args, env, timeout=None):
        calls.append((module, list(args)))
        if module == "nnscratch.bench.gemm":
            return {"peak_gflops": 50.0, "peak_shape": [4, 4, 4], "shapes": [],
                    "floor_seconds": {"mlp_infer_b1000": 0.01}}
        seconds = {"nnscratch": 0.02, "torch": 0.03}[args[0]]
        return {"seconds": seconds, "images": 10000, "peak_rss_mb": 50.0, "data": "stand-in", "versions": {args[0]: "1"}}

    monkeypatch.setattr(runner, "_run_child", fake_child)
    monkeypatch.setattr(runner, "_engine_available", lambda name, env: name != "keras")
    monkeypatch.setattr(runner.env_mod, "machine", lambda threads, removed: _synthetic()["machine"])
    lines = []
    res = runner.run(quick=True, reps=2, engines=["nnscratch", "torch", "keras"], workloads=["mlp_infer_b1000"],
                     out_dir=str(tmp_path), threads=1, log=lines.append, command="nnscratch bench")
    progress = [ln for ln in lines if ln[:2] in ("[1", "[2", "[3", "[4")]
    assert len(progress) == 4 and progress[0].startswith("[1/4] rep 1/2 mlp_infer_b1000")
    assert [c[1][:2] for c in calls[:4]] == [["nnscratch", "mlp_infer_b1000"], ["torch", "mlp_infer_b1000"],
                                             ["torch", "mlp_infer_b1000"], ["nnscratch", "mlp_infer_b1000"]]
    assert calls[-1] == ("nnscratch.bench.gemm", ["--quick", "--workloads", "mlp_infer_b1000"])
    assert res["notes"] == ["keras: not installed here, skipped"]
    assert res["command"].startswith("nnscratch bench --quick --reps 2")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["summary"]["torch"]["mlp_infer_b1000"]["median_s"] == pytest.approx(0.03)
    assert "| mlp_infer_b1000 | 0.67 | 0.67 | <= 1.0 | yes |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert any("nnscratch/torch" in ln for ln in lines)  # the ratio table is printed


# ----------------------------------------------------------------------------- the CLI entries
def test_nnscratch_bench_parses_the_suite_flags():
    args = cli.build_parser().parse_args(["bench", "--quick", "--reps", "2", "--threads", "4",
                                          "--workloads", "mlp_train_b32,mnist_convnet_train_b128", "--out", "o"])
    assert args.func is command.run_args
    assert (args.quick, args.reps, args.threads, args.out) == (True, 2, 4, "o")
    assert args.workloads == ["mlp_train_b32", "mnist_convnet_train_b128"]
    assert args.engines == list(engines.ENGINES)
    defaults = cli.build_parser().parse_args(["bench"])
    assert (defaults.quick, defaults.reps, defaults.threads, defaults.out) == (False, 3, 2, command.DEFAULT_OUT)


@pytest.mark.parametrize("bad", [["--reps", "0"], ["--threads", "-1"], ["--reps", "x"]])
def test_nnscratch_bench_rejects_bad_counts(bad, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench"] + bad)
    assert "expected a positive integer" in capsys.readouterr().err


def test_nnscratch_bench_names_an_unknown_workload(capsys):
    assert cli.main(["bench", "--workloads", "resnet_b1"]) == 1
    err = capsys.readouterr().err
    assert "unknown workload 'resnet_b1'" in err and "mnist_convnet_train_b128" in err


def test_the_shipped_suite_does_not_import_the_checkout_only_benchmarks_dir():
    for path in (ROOT / "nnscratch" / "bench").rglob("*.py"):
        text = path.read_text()
        assert "from benchmarks" not in text and "import benchmarks" not in text, path


# ----------------------------------------------------------------------------- python -m benchmarks gpu
def _gpu(tmp_path, *flags, timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "gpu", "--out", str(tmp_path)] + list(flags),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout, json.loads((tmp_path / "gpu.json").read_text()), (tmp_path / "gpu.md").read_text()


def test_gpu_command_runs_every_part_on_the_emulated_backend(tmp_path):
    out, res, md = _gpu(tmp_path, "--emulated", "--models", "mlp", "--images", "96", "--seed-images", "96",
                        "--seed-test-images", "200", "--no-numpy-ref")
    p = res["parts"]
    assert res["emulated"] and res["finished"] and res["backend"] == "emulated"
    assert p["probe"]["status"] == "ok"
    if p["probe"]["result"]["packages"]["pytest"]:
        assert p["tests"]["status"] == "ok" and "passed" in p["tests"]["summary"]
    seed = p["seed"]["result"]
    assert seed["n_train"] == 96 and seed["n_test"] == 200
    assert [r["program"] for r in seed["programs"]] == ["mlp", "lenet", "dropout_mlp", "softmax_regression"]
    for r in seed["programs"]:
        assert r["emulated"]["finite"] and r["emulated"]["accuracy"] == pytest.approx(r["numpy"]["accuracy"])
    runs = {r["engine"]: r for r in p["timing"]["runs"]}
    assert runs["nnscratch"]["status"] == "ok" and runs["nnscratch"]["on"] == "emulated"
    assert runs["nnscratch"]["images"] == 96 and runs["nnscratch"]["seconds"] > 0
    if "torch" in runs:
        assert runs["torch"]["status"] == "ok" and runs["torch"]["on"] == "cpu"
    assert "Emulated run" in md and "| mlp | 32 | nnscratch | emulated | 96 |" in md
    assert "timing [1/" in out and "done in" in out


def test_gpu_command_out_of_time_still_writes_what_it_reached(tmp_path):
    out, res, md = _gpu(tmp_path, "--emulated", "--budget", "6", "--models", "mlp")
    assert res["finished"] and res["parts"]["probe"]["status"] == "not run: out of time"
    assert all(r["status"] == "not run: out of time" for r in res["parts"]["timing"]["runs"])
    assert "not run: out of time" in md


def test_gpu_ratios_from_synthetic_runs():
    from benchmarks import gpu

    res = {"backend": "cupy", "parts": {"timing": {"runs": [
        {"engine": "nnscratch", "on": "cupy", "model": "mnist_convnet", "epoch_60000_s": 2.0},
        {"engine": "torch", "on": "cuda", "model": "mnist_convnet", "epoch_60000_s": 1.0},
        {"engine": "nnscratch", "on": "numpy", "model": "mnist_convnet", "epoch_60000_s": 30.0},
        {"engine": "torch", "on": "cuda", "model": "mlp", "epoch_60000_s": 1.0}]}}}
    assert gpu.ratios(res) == {"mnist_convnet": {"nnscratch_over_torch": 2.0, "numpy_over_gpu": 15.0},
                               "mlp": {"nnscratch_over_torch": None, "numpy_over_gpu": None}}


def test_gpu_child_that_hangs_silently_is_cut_at_its_timeout():
    from benchmarks import gpu

    result, status, _ = gpu._child(["-n", "1", "-r", "1", "import time; time.sleep(60)"], dict(os.environ), 3.5,
                                   module="timeit")
    assert result is None and status == "cut off after 4 s"


def test_gemm_floor_takes_the_faster_of_the_thread_counts(monkeypatch):
    import contextlib

    from nnscratch.bench import gemm

    state = {"one": False}

    @contextlib.contextmanager
    def fake_limits(limits, user_api):
        assert (limits, user_api) == (1, "blas")
        state["one"] = True
        yield
        state["one"] = False

    monkeypatch.setattr(gemm, "threadpool_limits", fake_limits)
    monkeypatch.setattr(gemm, "time_gemm", lambda M, K, N, **kw: (1e-3 if state["one"] else 3e-3) * (M > 500)
                        + (5e-3 if state["one"] else 2e-3) * (M <= 500))
    monkeypatch.setattr(gemm, "time_gemm_rows", lambda M, K, N, threads, **kw: None)  # not applicable here
    assert gemm.best_gemm(1000, 8, 8) == (1e-3, 1)
    assert gemm.best_gemm(100, 8, 8) == (2e-3, "env")
    # row blocks on threads, each with one BLAS thread (how nnscratch's pool runs conv products), when faster
    monkeypatch.setattr(gemm, "time_gemm_rows", lambda M, K, N, threads, **kw: 0.5e-3 if M > 500 else 9e-3)
    assert gemm.best_gemm(1000, 8, 8, threads=2) == (0.5e-3, "1 each, 2 threads")
    assert gemm.best_gemm(100, 8, 8, threads=2) == (2e-3, "env")


def test_row_block_gemm_timing_runs_the_product_on_threads():
    pytest.importorskip("threadpoolctl")
    from nnscratch.bench import gemm

    seconds = gemm.time_gemm_rows(64, 32, 16, 2, budget=1e-3, reps=1)
    assert seconds is not None and 0 < seconds < 1
    assert gemm.time_gemm_rows(64, 32, 16, 1) is None  # one thread: the 1-thread timing covers it
    assert gemm.time_gemm_rows(3, 32, 16, 2) is None  # fewer than two rows per thread


def test_the_wheel_ships_the_suite_and_the_bench_extra_has_the_peers():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = pytest.importorskip("setuptools")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = cfg["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(str(ROOT), include=include)
    assert {"nnscratch.bench", "nnscratch.bench.engines"} <= set(packages)
    assert not any(p.split(".")[0] in ("benchmarks", "tests") for p in packages)
    extra = " ".join(cfg["project"]["optional-dependencies"]["bench"])
    assert "torch==" in extra and "tensorflow" in extra
    assert cfg["project"]["scripts"]["nnscratch"] == "nnscratch.cli:main"


def test_micro_profiler_runs_on_the_current_api():
    """`python -m benchmarks micro` broke silently once when the Model API moved; this runs its
    per-layer profile of the MLP and checks the rows add up to a real step."""
    if backend.current() != "numpy":
        pytest.skip("the micro profiler times the NumPy backend (host arrays)")
    micro = pytest.importorskip("benchmarks.micro")
    result = micro.profile_model("mlp")
    assert [r["layer"].split()[0] for r in result["layers"]] == ["Dense", "Dense"]
    assert all(r["fwd_ms"] > 0 and r["bwd_ms"] > 0 for r in result["layers"])
    assert result["train_step_ms"] > 0 and result["adam_ms"] > 0
    assert "one train_step" in micro.markdown([result])
