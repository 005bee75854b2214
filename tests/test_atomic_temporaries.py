"""Temporaries left by a killed save (issue 16 item 5): recognisable names, removed by the next
save of the same target when their writer is gone, never someone else's files."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np

import nnscratch as nn
from nnscratch.saving import atomic

L = nn.layers


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _model():
    m = nn.Sequential([nn.Input((3,)), L.Dense(2)])
    m.compile("sgd", "mse")
    return m


def test_temporary_files_have_a_recognisable_name(tmp_path, monkeypatch):
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", spy)
    _model().save_weights(tmp_path / "w.npz")
    assert len(seen) == 1 and seen[0].startswith(f".nnscratch-tmp-{os.getpid()}-") and seen[0].endswith("-w.npz")


def test_next_save_removes_stale_temporaries_of_the_same_target_only(tmp_path):
    dead = _dead_pid()
    stale = tmp_path / f".nnscratch-tmp-{dead}-0123abcd-m.keras"
    live = tmp_path / f".nnscratch-tmp-{os.getppid()}-0123abcd-m.keras"  # a live process's save in progress
    other_target = tmp_path / f".nnscratch-tmp-{dead}-0123abcd-other.keras"
    foreign = tmp_path / f".tmp-{dead}-m.keras"  # not an nnscratch temporary
    for f in (stale, live, other_target, foreign):
        f.write_bytes(b"x" * 1000)
    _model().save(tmp_path / "m.keras")
    assert not stale.exists(), "a dead process's temporary of this target was left behind"
    assert live.exists() and other_target.exists() and foreign.exists()
    assert nn.models.load_model(tmp_path / "m.keras").count_params() == 8


def test_sigkill_during_a_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    target = tmp_path / "w.npz"
    child = textwrap.dedent(f"""
        import sys, time
        from nnscratch.saving import atomic
        with atomic.atomic_path({str(target)!r}) as tmp:
            open(tmp, "wb").write(b"partial" * 1000)
            print("writing", flush=True)
            time.sleep(60)
    """)
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [f for f in os.listdir(tmp_path) if f.startswith(".nnscratch-tmp-")]
    assert len(left) == 1 and not target.exists()
    m = _model()
    m.save_weights(target)
    assert os.listdir(tmp_path) == ["w.npz"]
    m2 = _model()
    m2.load_weights(target)
    np.testing.assert_array_equal(m2.get_weights()[0], m.get_weights()[0])


def test_rename_is_followed_by_a_directory_fsync(tmp_path, monkeypatch):
    calls = []
    real = atomic.fsync_directory
    monkeypatch.setattr(atomic, "fsync_directory", lambda d: (calls.append(d), real(d)))
    _model().save_weights(tmp_path / "w.weights.h5")
    assert calls == [str(tmp_path)]
