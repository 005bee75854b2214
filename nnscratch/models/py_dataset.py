"""``nn.utils.PyDataset``: Keras 3's batch-by-index dataset class (fit/evaluate/predict read it
through ``data_sources.py``; ``nn.utils`` re-exports it under Keras's name)."""
from __future__ import annotations


class PyDataset:
    """Keras 3's ``keras.utils.PyDataset``: subclass it with ``__len__`` (batches per epoch) and
    ``__getitem__(index)`` returning ``(x, y)`` or ``(x, y, sample_weight)``; ``on_epoch_end``
    runs after every epoch. ``workers``, ``use_multiprocessing`` and ``max_queue_size`` are
    accepted for compatibility; batches are loaded in the training thread."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) -> (x, y)")

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    @property
    def num_batches(self):
        return len(self)
