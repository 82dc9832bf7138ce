"""Train the injection detector: `python -m deskpilot.safety.train` (`make train-safety`).

Needs the `train` extra (scikit-learn, pyarrow, polib) and the data sources of
`sources.py`. Fits both stages on every source the way each leave-one-source-out fold
does (`detector_fit.fit`) and writes data/injection_model.npz (stage one) and
data/multilingual_head.npz (stage two): plain arrays, loadable without pickle. Prints the
threshold to put in the default policy (`taint_threshold`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deskpilot.safety.datasets import screen_cases
from deskpilot.safety.detector_fit import fit
from deskpilot.safety.embeddings import EmbeddingCache
from deskpilot.safety.multilingual import HEAD_FILE
from deskpilot.safety.ocr import OcrEngine, ScreenReader, words_to_text
from deskpilot.safety.sources import SOURCES
from deskpilot.safety.text_scan import MODEL_FILE


def ocr_cases(split: str, count: int, engine: OcrEngine) -> list[tuple[str, int]]:
    """OCR text of rendered screenshots, labelled: the text the gate really sees."""
    out = []
    for image, label, _source in screen_cases(split, count):
        words = ScreenReader(engine).read(image)
        out.append((words_to_text(words)[0], label))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-out", type=Path, default=MODEL_FILE)
    parser.add_argument("--head-out", type=Path, default=HEAD_FILE)
    parser.add_argument("--c", type=float, default=4.0, help="inverse regularisation")
    parser.add_argument(
        "--screens", type=int, default=160, help="rendered screenshots to OCR (0: none)"
    )
    args = parser.parse_args(argv)

    data = {source.name: source.texts() for source in SOURCES}
    if args.screens:
        engine = OcrEngine(1)
        data["screens"] = ocr_cases("train", args.screens, engine)
        engine.close()
    detector = fit(data, EmbeddingCache().embed, c=args.c)
    total = sum(len(rows) for rows in data.values())
    print(f"trained on {total} texts from {len(data)} sources; threshold at 3 % FPR on a "
          f"fifth held back: {detector.threshold:.3f} (stage one alone "
          f"{detector.fast_threshold:.3f})")  # fmt: skip
    detector.scanner.model.save(str(args.model_out))
    assert detector.scanner.second is not None
    detector.scanner.second.head.save(args.head_out)
    for path in (args.model_out, args.head_out):
        print(f"wrote {path.name} ({path.stat().st_size // 1024} KiB)")
    print(f"set taint_threshold: {detector.threshold:.2f} in data/default_policy.yaml")


if __name__ == "__main__":
    main()
