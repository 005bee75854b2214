"""BackupAndRestore refuses a backup made on other data, another batch size or another model
(issue 16, item 2): resuming would silently continue a different run."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch.callbacks import BackupAndRestore
from tests.test_reliability import SigintAt, data, small_mlp, snapshot, assert_unchanged

L = nn.layers


def interrupted_backup(tmp_path, n=180, batch_size=8, save_freq=5):
    """A backup written mid-epoch by a run on ``data(n)`` that Ctrl-C stopped."""
    x, y = data(n)
    m = small_mlp(seed=3)
    backup = tmp_path / "backup"
    m.fit(x, y, batch_size=batch_size, epochs=3, verbose=0,
          callbacks=[BackupAndRestore(backup, save_freq=save_freq), SigintAt(1, 6)])
    assert (backup / "checkpoint.npz").exists()
    return backup, x, y


@pytest.mark.parametrize("change,make,pattern", [
    ("fewer samples", lambda x, y: (x[:40], y[:40], 8), r"number of samples: 180 in the backup, 40 now"),
    ("more samples", lambda x, y: (np.concatenate([x, x, x[:40]]), np.concatenate([y, y, y[:40]]), 8),
     r"number of samples: 180 in the backup, 400 now"),
    ("other x", lambda x, y: (x[::-1].copy(), y, 8), r"the training inputs \(x\) differ"),
    ("other y", lambda x, y: (x, (y + 1) % 3, 8), r"the training targets \(y\) differ"),
    ("other batch size", lambda x, y: (x, y, 16), r"batch_size: 8 in the backup, 16 now"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_resume_refuses_a_backup_made_on_other_data(tmp_path, change, make, pattern):
    backup, x, y = interrupted_backup(tmp_path)
    bx, by, batch_size = make(x, y)
    m = small_mlp(seed=5)
    m.fit(bx[:8], by[:8], epochs=1, verbose=0)  # optimizer state exists
    snap = snapshot(m)
    with pytest.raises(ValueError, match=pattern) as info:
        m.fit(bx, by, batch_size=batch_size, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup, save_freq=5)])
    message = str(info.value)
    assert str(backup) in message and "delete" in message, "the message says how to start afresh"
    assert_unchanged(m, snap)
    assert (backup / "checkpoint.npz").exists(), "the backup is left for the user to decide"


def test_resume_refuses_a_backup_of_another_architecture(tmp_path):
    backup, x, y = interrupted_backup(tmp_path)
    nn.utils.set_random_seed(0)
    other = nn.Sequential([L.Dense(16, activation="relu", input_shape=(8,)), L.Dense(16), L.Dense(3)])
    other.compile("adam", nn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with pytest.raises(ValueError, match=r"the model's architecture differs.*Dense"):
        other.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup, save_freq=5)])


def test_resume_with_the_same_data_in_a_fresh_array_is_accepted(tmp_path):
    """The fingerprint is of the values, not of the array objects."""
    backup, x, y = interrupted_backup(tmp_path, n=64)
    full = small_mlp(seed=3)
    full.fit(x, y, batch_size=8, epochs=3, verbose=0)
    resumed = small_mlp(seed=99)
    resumed.fit(x.copy(), list(y), batch_size=8, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup, save_freq=5)])
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_epoch_backup_is_fingerprinted_too(tmp_path):
    backup, x, y = interrupted_backup(tmp_path, save_freq="epoch")
    with pytest.raises(ValueError, match="number of samples: 180 in the backup, 40 now"):
        small_mlp().fit(x[:40], y[:40], batch_size=8, epochs=3, verbose=0, callbacks=[BackupAndRestore(backup)])


def test_the_fingerprint_is_taken_on_the_device_too(tmp_path):
    """Under the emulated backend (CuPy's rules) the strided rows are indexed on the device and
    only they travel to the host."""
    nn.backend.set_backend("emulated")
    backup, x, y = interrupted_backup(tmp_path, n=64)
    with pytest.raises(ValueError, match="the training targets"):
        small_mlp().fit(x, (y + 1) % 3, batch_size=8, epochs=3, verbose=0,
                        callbacks=[BackupAndRestore(backup, save_freq=5)])
