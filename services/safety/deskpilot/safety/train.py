"""Train the injection model: `python -m deskpilot.safety.train` (`make train-safety`).

Needs the `train` extra (scikit-learn). Writes data/injection_model.npz: the weights of a
logistic regression over the hashed features of `features.py`, loadable without pickle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from deskpilot.safety.datasets import labelled, screen_cases
from deskpilot.safety.features import N_FEATURES, feature_indices
from deskpilot.safety.normalize import normalise
from deskpilot.safety.ocr import OcrEngine, ScreenReader, words_to_text
from deskpilot.safety.text_scan import MODEL_FILE


def build_matrix(texts: list[str]):
    """Binary, L2-normalised sparse rows, exactly as LinearModel.score sees them."""
    from scipy.sparse import csr_matrix

    indptr, indices, values = [0], [], []
    for text in texts:
        idx = feature_indices(normalise(text))
        indices.append(idx)
        values.append(np.full(idx.size, 1.0 / np.sqrt(max(idx.size, 1)), dtype=np.float32))
        indptr.append(indptr[-1] + idx.size)
    return csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.asarray(indptr)),
        shape=(len(texts), N_FEATURES),
    )


def ocr_cases(split: str, count: int, engine: OcrEngine) -> list[tuple[str, int, str]]:
    """OCR text of rendered screenshots, labelled."""
    out = []
    for image, label, source in screen_cases(split, count):
        words = ScreenReader(engine).read(image)
        out.append((words_to_text(words)[0], label, source))
    return out


def main(argv: list[str] | None = None) -> None:
    """Train on the train split, report on the held-out split, save the weights."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularisation")
    parser.add_argument(
        "--screens", type=int, default=160, help="rendered screenshots to OCR (0: none)"
    )
    args = parser.parse_args(argv)

    train = list(labelled("train"))
    test = list(labelled("test"))
    if args.screens:
        # OCR output of rendered pages: the text the gate will really see.
        engine = OcrEngine(1)
        train += list(ocr_cases("train", args.screens, engine))
        test += list(ocr_cases("test", max(10, args.screens // 4), engine))
        engine.close()
    x_train = build_matrix([t for t, _, _ in train])
    y_train = np.asarray([y for _, y, _ in train])
    model = LogisticRegression(C=args.c, class_weight="balanced", max_iter=2000)
    model.fit(x_train, y_train)
    x_test = build_matrix([t for t, _, _ in test])
    y_test = np.asarray([y for _, y, _ in test])
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    print(f"train {len(train)} texts, held-out {len(test)} texts, held-out ROC AUC {auc:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        weights=model.coef_[0].astype(np.float16),
        bias=np.asarray([model.intercept_[0]], dtype=np.float32),
    )
    print(f"wrote {args.out.name} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
