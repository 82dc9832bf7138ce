"""tesseract's data: where its models are, which languages exist, and which Debian
package brings each (so a missing model is one line naming what to install)."""

from __future__ import annotations

import glob
import os

import tesserocr

# The languages Debian packages as tesseract-ocr-<code, `_` as `-`> (bookworm).
_CODES = """afr amh ara asm aze aze_cyrl bel ben bod bos bre bul cat ceb ces chi_sim chi_sim_vert
    chi_tra chi_tra_vert chr cos cym dan deu div dzo ell eng enm epo est eus fao fas fil fin
    fra frk frm fry gla gle glg grc guj hat heb hin hrv hun hye iku ind isl ita ita_old jav
    jpn jpn_vert kan kat kat_old kaz khm kir kmr kor kor_vert lao lat lav lit ltz mal mar
    mkd mlt mon mri msa mya nep nld nor oci ori pan pol por pus que ron rus san sin slk slv
    snd spa spa_old sqi srp srp_latn sun swa swe syr tam tat tel tgk tha tir ton tur uig
    ukr urd uzb uzb_cyrl vie yid yor"""
KNOWN_LANGUAGES = frozenset(_CODES.split())
# Those written in the Latin script: English misreads their accented letters, where the
# others' scripts it cannot read at all (language_pass.py picks the engine by that).
_LATIN = """afr aze bos bre cat ceb ces cos cym dan deu enm epo est eus fao fil fin fra frk frm
    fry gla gle glg hat hrv hun ind isl ita ita_old jav kmr lat lav lit ltz mlt mri msa nld
    nor oci pol por que ron slk slv spa spa_old sqi srp_latn sun swa swe ton tur uzb vie yor"""
LATIN_LANGUAGES = frozenset(_LATIN.split())
# The second pass's languages when none are configured: those of these that are installed.
DEFAULT_LANGUAGES = ("chi_sim", "deu", "fra", "spa")


class MissingLanguageError(RuntimeError):
    """A configured language has no model in the tessdata folder."""


def debian_package(language: str) -> str:
    """The Debian package holding `language`'s model: chi_sim -> tesseract-ocr-chi-sim."""
    return "tesseract-ocr-" + language.replace("_", "-")


def find_tessdata() -> str:
    """$TESSDATA_PREFIX, else the newest Debian tessdata folder holding eng.traineddata."""
    if os.environ.get("TESSDATA_PREFIX"):
        return os.environ["TESSDATA_PREFIX"]
    for candidate in sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True):
        if os.path.exists(os.path.join(candidate, "eng.traineddata")):
            return candidate
    return tesserocr.get_languages()[0]


def installed(language: str, path: str) -> bool:
    """Whether `path` holds `language`'s model."""
    return os.path.isfile(os.path.join(path, f"{language}.traineddata"))


def require(languages: list[str], path: str) -> None:
    """Raise MissingLanguageError naming the packages to install when a model is absent
    (tesseract itself would fail with a bare 'Failed to init API')."""
    missing = [language for language in languages if not installed(language, path)]
    if missing:
        models = ", ".join(f"{language}.traineddata" for language in missing)
        packages = " ".join(debian_package(language) for language in missing)
        raise MissingLanguageError(
            f"OCR model {models} not in {path}: install the Debian package {packages} "
            "(or point --tessdata at a folder holding it)"
        )


def parse_languages(value: str) -> list[str]:
    """`chi_sim+deu` (tesseract's syntax; commas too) as a list; ValueError naming an
    unknown code."""
    languages = [part.strip() for part in value.replace(",", "+").split("+") if part.strip()]
    for language in languages:
        if language == "eng":
            raise ValueError("eng is always read first; list only the other languages")
        if language not in KNOWN_LANGUAGES:
            raise ValueError(
                f"unknown tesseract language {language!r}; use tesseract's codes, "
                "e.g. chi_sim, deu, fra, spa"
            )
    if len(set(languages)) != len(languages):
        raise ValueError(f"a language is listed twice in {value!r}")
    return languages


def second_pass_languages(setting: str, path: str) -> list[str]:
    """The languages of the second pass: `auto` is those of DEFAULT_LANGUAGES installed;
    anything else must be installed (MissingLanguageError)."""
    if setting.strip() == "auto":
        return [language for language in DEFAULT_LANGUAGES if installed(language, path)]
    languages = parse_languages(setting)
    require(languages, path)
    return languages
