"""An on-disk cache of e5 vectors for training and benchmarks (not used by the service).

Leave-one-source-out trains a head per source on mostly the same windows; embedding them
once (~20-100 ms each on two cores) and keeping the vectors under $XDG_CACHE_HOME makes
every later run cheap. Keyed by the SHA-256 of the text, stored as plain arrays.
"""

from __future__ import annotations

import atexit
import hashlib
import os
from pathlib import Path

import numpy as np

from deskpilot.safety.multilingual import DIMENSIONS, Embedder
from deskpilot.safety.sources import cache_dir

BATCH = 32
SAVE_EVERY = 512


class EmbeddingCache:
    """embed(texts) from the cache, computing (and saving) what is missing."""

    def __init__(self, path: Path | None = None, threads: int = 2) -> None:
        self.path = path or cache_dir() / "e5" / "windows.npz"
        self._threads = threads
        self._embedder: Embedder | None = None
        self._vectors: dict[bytes, np.ndarray] = {}
        self._unsaved = 0
        if self.path.exists():
            with np.load(self.path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            self._vectors = {k.tobytes(): v for k, v in zip(keys, vectors, strict=True)}
        atexit.register(self.save)

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).digest() for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            if self._embedder is None:
                self._embedder = Embedder(self._threads)
            for i in range(0, len(missing), BATCH):
                batch = missing[i : i + BATCH]
                vectors = self._embedder.embed([by_key[k] for k in batch])
                self._vectors.update(zip(batch, vectors, strict=True))
                self._unsaved += len(batch)
                if self._unsaved >= SAVE_EVERY:
                    self.save()
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])

    def save(self) -> None:
        if not self._unsaved:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = list(self._vectors)
        # Per process: two benchmark runs may share the cache; the last rename wins whole.
        partial = self.path.with_name(f"{self.path.stem}.{os.getpid()}.partial.npz")
        np.savez(
            partial,
            keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32),
            vectors=np.stack([self._vectors[k] for k in keys]),
        )
        partial.replace(self.path)
        self._unsaved = 0
