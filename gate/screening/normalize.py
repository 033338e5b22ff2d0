# ruff: noqa: RUF001  (the transliteration table maps look-alike Cyrillic letters on purpose)
"""Name normalisation for screening: the same organisation written differently compares equal.

Case, diacritics, punctuation, Cyrillic script (a cheap transliteration), `&`/`and`, and legal-form
words (Ltd, GmbH, Co., LLC, OOO, JSC ...) are folded away; the result is the name's tokens. Token
order is handled by the matcher, which compares sorted tokens.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into a base letter plus marks.
_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "&": " and ",
        "+": " and ",
    }
)

# Russian / Ukrainian / Belarusian Cyrillic, roughly BGN/PCGN (what the lists mostly use).
_CYRILLIC = str.maketrans(
    {
        "а": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ґ": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "є": "ye",
        "ж": "zh",
        "з": "z",
        "и": "i",
        "і": "i",
        "ї": "yi",
        "й": "y",
        "к": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "о": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ў": "u",
        "ф": "f",
        "х": "kh",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "shch",
        "ъ": "",
        "ы": "y",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
    }
)

# Legal forms dropped wherever they stand (as whole tokens, after the phrases below).
LEGAL_FORMS = frozenset(
    [
        "ltd",
        "limited",
        "llc",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "companies",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "kgaa",
        "ohg",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "llp",
        "lp",
        "pte",
        "pty",
        "pvt",
        "oy",
        "ab",
        "asa",
        "se",
        "ooo",
        "oao",
        "zao",
        "pao",
        "ao",
        "jsc",
        "cjsc",
        "ojsc",
        "pjsc",
        "pt",
        "tbk",
        "bhd",
        "sdn",
        "kk",
        "lda",
        "ltda",
        "sl",
        "fzco",
        "fze",
        "fzc",
        "fzllc",
        "wll",
        "spc",
        "sal",
        "sae",
        "ulc",
        "ehf",
        "as",
    ]
)

# Multi-word legal forms, removed before the single words (longest first).
_PHRASES = tuple(
    sorted(
        (
            tuple(p.split())
            for p in (
                "limited liability company",
                "limited liability partnership",
                "public joint stock company",
                "open joint stock company",
                "closed joint stock company",
                "joint stock company",
                "public limited company",
                "private limited",
                "public company limited",
                "sp z o o",
                "s de rl de cv",
                "s de rl",
                "sa de cv",
                "kabushiki kaisha",
                "obshchestvo s ogranichennoy otvetstvennostyu",
                "aktsionernoe obshchestvo",
                "publichnoe aktsionernoe obshchestvo",
            )
        ),
        key=len,
        reverse=True,
    )
)
_STOPWORDS = frozenset({"the", "and", "of"})
_DOTS = re.compile(r"[.'’`´]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower-case ASCII letters and digits separated by single spaces (no word is dropped)."""
    lowered = unicodedata.normalize("NFKC", text).casefold().translate(_SPECIAL)
    lowered = lowered.translate(_CYRILLIC)
    ascii_ = "".join(
        ch for ch in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(ch)
    )
    # "S.A.", "Co.", "O'Brien": dots and apostrophes join, other punctuation separates.
    ascii_ = _DOTS.sub("", ascii_)
    words = _NON_WORD.sub(" ", ascii_).split()
    # Transliterations disagree on x / ks ("Rosoboronexport", "Rosoboroneksport").
    return " ".join(w.replace("x", "ks") for w in words)


_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _phrase in _PHRASES:
    _BY_FIRST.setdefault(_phrase[0], []).append(_phrase)


def _drop_phrases(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for phrase in _BY_FIRST.get(tokens[i], ()):
            if tuple(tokens[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def name_tokens(text: str) -> tuple[str, ...]:
    """The name's tokens without legal forms (kept when the name is nothing but legal forms)."""
    tokens = fold(text).split()
    core = [t for t in _drop_phrases(tokens) if t not in LEGAL_FORMS and t not in _STOPWORDS]
    return tuple(core) if core else tuple(tokens)


def normalize_name(text: str) -> str:
    """The name's tokens, sorted and joined: the form the matcher compares."""
    return " ".join(sorted(name_tokens(text)))
