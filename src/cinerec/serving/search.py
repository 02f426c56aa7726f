"""Title search over the movie catalog: accent- and case-insensitive, partial words.

Every title gets a *search key*: accents stripped (and letters such as ø, ł and æ written
as o, l and ae), case folded, punctuation turned into spaces, initials written with dots
or stars also joined ("L.A." → "l a ... la"), a trailing article moved to the front
("Godfather, The" → "the godfather"), and a Roman numeral standing alone also in digits
("Part II" → "part ii ... 2"). So "amelie" finds "Amélie", "la confidential" finds
"L.A. Confidential", "schindlers list" finds "Schindler's List", "the godfather" finds
"Godfather, The" and "godfather 2" "Godfather: Part II". A movie matches when every word
of the query occurs in its key (anywhere, so partial words match; a single letter typed
alone, of a script that parts words with spaces, only at a word's start), starts a word
of it written together across a hyphen ("spiderman", "spiderm" for "Spider-Man"), for a
four-digit word, is its release year, or, for a Roman numeral from II to XX, is a number
standing alone in its title ("die hard ii" finds "Die Hard 2"; "vii" no "8 1/2"). A number
from 2 to 20 is found as a word or in digits ("12 monkeys", "Twelve Monkeys"), an ampersand
between words as "and", and where no title holds every word, the words typed together
start a title ("toystory" for "Toy Story").
Matches rank by how well they match, then by popularity; everything is vectorised over
the whole catalog, so a query costs a few array scans even on ml-25m's 59,047 movies.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinerec.data.dataset import Catalog
from cinerec.errors import ConfigError

__all__ = ["search_key", "title_key", "MovieSearch"]

# MovieLens titles put a leading article at the end ("Usual Suspects, The", "Olvidados, Los",
# "Vitelloni, I").
_ARTICLES = "the|a|an|les|la|le|l'|il|el|das|der|die|den|det|los|las|lo|un|une|una|uno|gli|i|ein|eine|o|os|de|het"
_TRAILING_ARTICLE = re.compile(rf"^(.*?),\s*({_ARTICLES})(\s*\(.*\))?$", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Initials written with dots or stars between single letters ("L.A.", "M*A*S*H", "E.T.",
# "E. T."): their key holds them apart ("l a") and together ("la"), as people type them.
_INITIALS = re.compile(r"(?<![^\W_])[^\W\d_](?:[.*] ?[^\W\d_])+(?![^\W_])")
# Words joined by an apostrophe ("Schindler's", "O'Brien", "Rock 'n' Roll"): their key holds
# them apart and together ("schindler s ... schindlers"), as people type them with or without it.
_APOSTROPHED = re.compile(r"[^\W_]+(?: ?' ?[^\W_]+)+")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})  # (ʼ is a letter: split as ' is)
_APOSTROPHE_CHARS = frozenset("'" + "".join(map(chr, _APOSTROPHES)))
# Words joined by a hyphen ("Spider-Man", "Extra-Terrestrial", "X-Men"): their key holds them
# apart and together ("spider man ... spiderman"), as people type them with or without it.
_HYPHENATED = re.compile(r"[^\W_]+(?:[-\u2010\u2011\u2013][^\W_]+)+")
_HYPHENS = re.compile(r"[-\u2010\u2011\u2013]")  # (and an en dash between words: "Jean–Luc")
# A sequel's number in Roman numerals ("Godfather: Part II", "Star Wars: Episode IV"): the
# title's key holds it in digits too, so "godfather 2" finds it. From 2 to 20, standing
# alone (a lone V or X is more often a letter: "Malcolm X", "V for Vendetta").
_ROMAN = ("ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii", "xiv", "xv", "xvi", "xvii",
          "xviii", "xix", "xx")
_ROMAN_VALUE = {r: n for n, r in enumerate(_ROMAN, 2) if len(r) > 1}
_ROMAN_WORD = re.compile(rf"(?<![\w'])({'|'.join(sorted(_ROMAN_VALUE, key=len, reverse=True))})(?![\w'])")
# And the other way: a sequel's number in digits ("Die Hard 2") also in Roman numerals, so
# "die hard ii" finds it. From 2 to 20 standing alone: not a piece of "20,000", "1/3" or
# "2.5", and 5 and 10 not as a lone V or X.
_NUMBER_WORD = re.compile(r"(?<![\w'/])(?<!\d[.,])(1\d|20|[2-9])(?![\w'/]|[.,]\d)")
_ROMAN_OF = {str(n): r for r, n in _ROMAN_VALUE.items()}
# A number from 2 to 20 written as a word ("Twelve Monkeys", "Ocean's Eleven") is found by
# its digits typed as a whole word, so "12 monkeys" finds it; and one in digits ("12 Angry
# Men") by its word, so "twelve angry men" finds that (:func:`_numerals`).
_NUMBER_NAMES = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                 "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_NAME_VALUE = {name: n for n, name in enumerate(_NUMBER_NAMES, 2)}
_NAME_OF = {str(n): name for name, n in _NAME_VALUE.items()}
_NUMBER_NAME = re.compile(rf"(?<![\w'])({'|'.join(_NUMBER_NAMES)})(?![\w'])")
# An ampersand between words is "and": "wallace and gromit" finds "Wallace & Gromit".
_AMPERSAND = re.compile(r"(?<=\S)\s+&\s+(?=\S)")
# Letters with no accent to strip (NFKD leaves them whole), written as plain letters.
_OWN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
                              "ħ": "h"})


def search_key(text: str, joined: bool = True) -> str:
    """The normalised form of a title or query: no accents, case folded, words split by one space.

    With ``joined``, initials and words joined by an apostrophe come again at the end,
    joined ("l a confidential la"); without, they are as typed, which a search compares
    with the start of a title's key.

    >>> search_key("Amélie (Fabuleux destin d'Amélie Poulain, Le)")
    'amelie fabuleux destin d amelie poulain le damelie'
    >>> search_key("Godfather, The")
    'the godfather'
    """
    return _key(_plain(text), joined)


def _key(plain: str, joined: bool = True) -> str:
    """:func:`search_key` of a text already :func:`_plain`."""
    key = _words(plain)
    if not joined:
        return key
    together = [re.sub(r"[.* ]", "", m) for m in _INITIALS.findall(plain)] if "." in plain or "*" in plain else []
    if "'" in plain:
        together += [re.sub(r"[' ]", "", m) for m in _APOSTROPHED.findall(plain)]
    return " ".join([key, *together]) if together and key else key


def _plain(text: str) -> str:
    """``text`` with its trailing article to the front, no accents, case folded, and every
    apostrophe written as ``'``; punctuation still in place."""
    text = str(text)
    m = _TRAILING_ARTICLE.match(text.strip())
    if m:
        text = f"{m.group(2)} {m.group(1)}{m.group(3) or ''}"
    if "&" in text:
        text = _AMPERSAND.sub(" and ", text)
    if text.isascii():  # most titles: nothing to strip, and 10x faster
        plain = text.casefold()
    else:
        plain = _unaccented(text).casefold().translate(_OWN_LETTERS)
    return plain.translate(_APOSTROPHES) if not text.isascii() or "`" in plain else plain


#: Scripts whose marks over and under letters are accents a person may leave out when
#: typing (é, ά, ё; Arabic and Hebrew vowel marks). In others a mark is part of the letter
#: or the word: the vowel signs of Devanagari or Thai, the voicing marks of Japanese kana
#: (ガ is not カ), and a Korean syllable is no row of its letters.
_ACCENTED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC", "HEBREW")


def _unaccented(text: str) -> str:
    """``text`` with the accents of :data:`_ACCENTED_SCRIPTS` stripped and every letter in
    its compatibility form (ﬁ as fi, Ａ as A, ｶﾞ as ガ), the marks of other scripts kept."""
    out = []
    strip = False  # whether the marks that follow belong to a letter whose accents go
    for ch in unicodedata.normalize("NFC", text):
        written, mark, accented = _letter(ch)
        if mark:
            if not strip:
                out.append(ch)
            continue
        strip = accented
        out.append(written)
    return unicodedata.normalize("NFC", "".join(out))  # (ｶﾞ, two letters, is ガ, one)


@functools.lru_cache(maxsize=65536)
def _letter(ch: str) -> tuple[str, bool, bool]:
    """One character as :func:`_unaccented` writes it, whether it is a mark, and whether
    its script's accents go (remembered: a catalogue repeats its letters)."""
    if unicodedata.category(ch).startswith("M"):
        return ch, True, False
    decomposed = unicodedata.normalize("NFKD", ch)
    accented = ch.isascii() or unicodedata.name(decomposed[0], "").startswith(_ACCENTED_SCRIPTS)
    written = "".join(c for c in decomposed if not unicodedata.combining(c)) if accented \
        else unicodedata.normalize("NFKC", ch)
    return written, False, accented


#: Scripts of letters whose words a space parts: in these a single letter of a query, typed
#: alone, is a word's first.
_SPACED_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "GEORGIAN", "HEBREW", "ARABIC", "DEVANAGARI")


def _spaced(ch: str) -> bool:
    """Whether the one character ``ch`` (a query's word) is a letter of a script whose
    words a space parts."""
    return ch.isascii() or unicodedata.name(ch, "").startswith(_SPACED_SCRIPTS)


def _words(text: str) -> str:
    """``text``'s words, one space apart: letters, digits and the marks of a word (a
    Devanagari vowel sign is no space); anything else, punctuation and ``_``, a space."""
    if text.isascii():
        return _NON_WORD.sub(" ", text).strip()
    out = []
    in_word = False  # a mark is the word's only after a letter or digit (not an emoji's variation selector)
    for c in text:
        in_word = c.isalnum() or (in_word and unicodedata.category(c).startswith("M"))
        out.append(c if in_word else " ")
    return " ".join("".join(out).split())


def _squeezed(text: str) -> str:
    """A title's key with its words joined by an apostrophe, and its initials, written
    together where they stand ("schindlers list", "et the extra terrestrial"): a query
    typed without the apostrophe or the dots starts it."""
    plain = _INITIALS.sub(lambda m: re.sub(r"[.* ]", "", m.group()), _plain(text))
    return _words(_HYPHENATED.sub(lambda m: _HYPHENS.sub("", m.group()), plain.replace("'", "")))


#: The longest query a search takes, in characters (the API's ``GET /movies``, the page's
#: box and ``cinerec movies`` alike), and the most movies it lists.
QUERY_LIMIT, LIST_LIMIT = 200, 200

#: The characters of a title's search key that a search reads: its first 256 (ml-100k's
#: longest title has 74), beyond any query (:data:`QUERY_LIMIT`).
KEY_LIMIT = 256


def title_key(title: str) -> str:
    """A title's search key as searches read it (:func:`search_key`, with its Roman numerals
    also in digits and its hyphenated words also written together, cut to
    :data:`KEY_LIMIT`: the keys are one fixed-width array, as wide as the longest, so one
    title of 20,000 characters made every movie's key that wide). A query's hyphenated
    words are not joined: "star-wars" finds "Star Wars"."""
    return _title_keys(title)[1]


def _title_keys(title: str) -> tuple[str, str]:
    """A title's key without its hyphenated words joined, read for a query word anywhere in
    it ("tram" is not in "Extra-Mural"), and :func:`title_key`, read for whole words and
    word starts ("extramural", "extram")."""
    return _keys_of(_plain(title))  # (as the key reads it: Ⅱ as ii, a fullwidth hyphen as -)


def _keys_of(plain: str) -> tuple[str, str]:
    """:func:`_title_keys` of a title already :func:`_plain`."""
    key = _key(plain)
    digits = [str(_ROMAN_VALUE[m]) for m in _ROMAN_WORD.findall(plain)]
    loose = " ".join([key, *digits]) if digits and key else key
    joined = [_HYPHENS.sub("", m) for m in _HYPHENATED.findall(plain)] if _HYPHENS.search(plain) else []
    return loose[:KEY_LIMIT], (" ".join([loose, *joined]) if joined and loose else loose)[:KEY_LIMIT]


def _numerals(title: str) -> str:
    """A title's numbers from 2 to 20 standing alone, in Roman numerals and in words, and
    its numbers written as words in digits, each with a space either side (" ii two ",
    " 12 "), or "": a query's whole word is compared with them, never a part of one ("vii"
    is not in "viii", nor "ii" in "iii", nor "hirt" in "thirteen"), so "die hard ii" finds
    "Die Hard 2", "12 monkeys" "Twelve Monkeys", and "vii" no "8 1/2", and a letter typed
    alone ("x", "i") no sequel by its number."""
    return _numerals_of(_plain(title))


def _numerals_of(plain: str) -> str:
    """:func:`_numerals` of a title already :func:`_plain`."""
    forms = [str(_NAME_VALUE[m]) for m in _NUMBER_NAME.findall(plain)]
    forms += [_NAME_OF[str(_ROMAN_VALUE[m])] for m in _ROMAN_WORD.findall(plain)]  # ("Part II": "two")
    if any(c.isdigit() for c in plain):
        for m in _NUMBER_WORD.findall(plain):
            forms += [_ROMAN_OF[m], _NAME_OF[m]] if m in _ROMAN_OF else [_NAME_OF[m]]
    return f" {' '.join(forms)} " if forms else ""


_ENGLISH_ARTICLE = re.compile(r"(the|a|an) ")


def _has_article(title: str, key: str) -> bool:
    """Whether ``key``, the title's, starts with an article: one MovieLens wrote at its end
    ("Crow, The", "Olvidados, Los"), or an English one written first ("The Fan"). Not a
    word that is an article in another language only where the title is written so
    ("Die Hard" is no German title)."""
    return _TRAILING_ARTICLE.match(title.strip()) is not None or _ENGLISH_ARTICLE.match(key) is not None


@dataclass(frozen=True, eq=False)
class MovieSearch:
    """Search and filter a catalog.

    Attributes:
        catalog: the movies, aligned to item index.
        popularity: ``(n_items,) int64`` number of ratings per movie, the tie-breaker.
    """

    catalog: Catalog
    popularity: np.ndarray
    keys: np.ndarray = field(init=False, repr=False)
    _padded: np.ndarray = field(init=False, repr=False)
    _starts: np.ndarray = field(init=False, repr=False)
    _bare: np.ndarray = field(init=False, repr=False)
    _bare_starts: np.ndarray = field(init=False, repr=False)
    _genres: dict[str, int] = field(init=False, repr=False)
    _numerals: np.ndarray | None = field(init=False, repr=False)  # (None: no title holds such a number)

    def __post_init__(self) -> None:
        plains = [_plain(t) for t in self.catalog.titles]  # (each title's, read once for its keys and numbers)
        both = [_keys_of(p) for p in plains]
        keys = np.array([loose for loose, _ in both], dtype=str)
        full = np.array([whole for _, whole in both], dtype=str)
        if len(keys) == 0:
            keys = full = np.zeros(0, dtype="<U1")
        object.__setattr__(self, "keys", keys)
        # (the same keys, a title's words joined by an apostrophe and its initials written
        # together: "schindlers list" starts "Schindler's List" as "schindler s list" does,
        # and "et" starts "E.T. the Extra-Terrestrial")
        squeezed = keys.copy()
        for i, title in enumerate(self.catalog.titles):
            if _APOSTROPHE_CHARS.intersection(str(title)) or _HYPHENATED.search(str(title)) or \
                    not str(title).isascii() or \
                    (("." in str(title) or "*" in str(title)) and _INITIALS.search(str(title))):
                squeezed[i] = _squeezed(title)[:KEY_LIMIT]
        object.__setattr__(self, "_starts", squeezed)
        # (the keys without their article, "crow" for "Crow, The": the title starts with the
        # word typed, as people type it without "the")
        bare, bare_starts = np.zeros_like(keys), np.zeros_like(squeezed)  # ("": no article, nothing to add)
        for i, title in enumerate(self.catalog.titles):
            if _has_article(str(title), str(keys[i])):
                bare[i], bare_starts[i] = str(keys[i]).partition(" ")[2], str(squeezed[i]).partition(" ")[2]
        object.__setattr__(self, "_bare", bare)
        object.__setattr__(self, "_bare_starts", bare_starts)
        # Spaces on both sides let one `find` test for whole words and word prefixes.
        # (from the keys with hyphenated words also joined: "spiderman" is a whole word of
        # "Spider-Man", and "spiderm" starts one)
        object.__setattr__(self, "_padded", np.char.add(np.char.add(" ", full), " "))
        numerals = [_numerals_of(p) for p in plains]
        object.__setattr__(self, "_numerals", np.array(numerals, dtype=str) if any(numerals) else None)
        object.__setattr__(self, "_genres", {g.casefold(): j for j, g in enumerate(self.catalog.genre_names)})
        pop = np.asarray(self.popularity, dtype=np.int64)
        if pop.shape != (len(keys),):
            raise ValueError(f"popularity must have shape ({len(keys)},), got {pop.shape}")
        object.__setattr__(self, "popularity", pop)

    def __repr__(self) -> str:
        return f"<MovieSearch over {len(self.keys):,} movies>"

    @functools.cached_property
    def _solid(self) -> tuple[np.ndarray, np.ndarray]:
        """The titles' keys with no spaces ("toystory"), and the same without an article,
        made the first time a search needs them."""
        return (np.asarray(np.char.replace(self._starts, " ", ""), dtype=str),
                np.asarray(np.char.replace(self._bare_starts, " ", ""), dtype=str))

    def genre_column(self, genre: str) -> int:
        """Index of ``genre`` in the catalog's genre list (case-insensitive, spaces around it aside)."""
        try:
            return self._genres[genre.strip().casefold()]
        except KeyError:
            known = ", ".join(self.catalog.present_genres)
            raise ConfigError(f"unknown genre {genre!r} (known: {known})") from None

    def filter_mask(self, genre: str | None = None, year_from: int | None = None, year_to: int | None = None) -> np.ndarray:
        """``(n_items,) bool``: the movies passing the genre and release-year filters."""
        mask = np.ones(len(self.keys), dtype=bool)
        if genre:
            mask &= self.catalog.genres[:, self.genre_column(genre)]
        years = self.catalog.years
        if year_from is not None:  # (an unknown year, 0, passes no lower bound, 0 included)
            mask &= (years >= year_from) & (years > 0)
        if year_to is not None:
            # Unknown years (0) only pass an upper bound, never a lower one.
            mask &= years <= year_to
        return mask

    def search(
        self,
        query: str = "",
        *,
        genre: str | None = None,
        year_from: int | None = None,
        year_to: int | None = None,
        limit: int = 20,
    ) -> np.ndarray:
        """Item indices ``(<= limit,) int64`` matching ``query`` and the filters, best first.

        Ranking: the key starting with the whole query first, then every query word
        matching a whole word, then every word matching a word start, then anywhere;
        within a tier, more ratings first, then lower item index.
        """
        # Every word must occur, the joined forms too ("schindler's": schindler, s and
        # schindlers, which a title without the apostrophe lacks); the key starts with
        # the words as typed.
        words = search_key(query).split()
        if query.strip() and not words:  # only punctuation or symbols: no title word can match
            return np.zeros(0, dtype=np.int64)
        allowed = self.filter_mask(genre, year_from, year_to)
        mask = allowed.copy()
        tier = np.zeros(len(self.keys), dtype=np.int64)
        if words:
            whole = np.ones(len(self.keys), dtype=bool)
            start = np.ones(len(self.keys), dtype=bool)
            alone = {k for token in query.split() if len(k := search_key(token, joined=False)) == 1
                     and k.isalpha() and _spaced(k)}
            for w in words:  # a handful of words, each one vectorised scan of the catalog
                # A year ("star wars 1977", "(1977)") matches the release year too: a title
                # holds its year apart, so the query found nothing.
                # (0 is an unknown year, which no query names; isdecimal, not isdigit: ፩ and ¹ are
                # digits int() cannot read)
                named = self.catalog.years == int(w) if len(w) == 4 and w.isdecimal() and int(w) > 0 else False
                if (w in _ROMAN_VALUE or w in _NAME_VALUE or w in _NAME_OF) and self._numerals is not None:
                    # ("ii" or "two": a title's number 2, "Die Hard 2"; "12": "Twelve Monkeys")
                    named = named | (np.char.find(self._numerals, f" {w} ") >= 0)
                starts = np.char.find(self._padded, f" {w}") >= 0  # (a hyphenated word joined, too)
                # A single letter typed alone starts a word ("godfather p", as it is typed):
                # anywhere, it is in nearly every title. Not one of initials or a word cut
                # at an apostrophe ("e.t.", "don't": "Dont Look Back" holds no word "t"), a
                # digit ("x 2" finds "X2"), nor a character of a script that parts no words
                # with spaces (a kanji, a kana, a Hangul syllable), inside a title's long word.
                anywhere = starts if w in alone else np.char.find(self.keys, w) >= 0
                mask &= anywhere | starts | named
                whole &= (np.char.find(self._padded, f" {w} ") >= 0) | named
                start &= starts | named
            typed = search_key(query, joined=False)
            prefix = np.char.startswith(self.keys, typed) | np.char.startswith(self._starts, typed) | \
                np.char.startswith(self._bare, typed) | np.char.startswith(self._bare_starts, typed)
            tier = prefix * 4 + whole * 2 + start * 1
        hits = np.flatnonzero(mask)
        if words and hits.size == 0 and len(self.keys):
            # Nothing has every word: the words typed together ("toystory") may start a
            # title written apart ("Toy Story"), with or without its article.
            solid = "".join(search_key(query, joined=False).split())
            keys, bare = self._solid
            mask = allowed & (np.char.startswith(keys, solid) | np.char.startswith(bare, solid))
            hits = np.flatnonzero(mask)
        order = np.lexsort((hits, -self.popularity[hits], -tier[hits]))
        return hits[order[: max(0, int(limit))]]

    def describe(self) -> dict[str, Any]:
        return {"movies": int(len(self.keys)), "genres": list(self.catalog.present_genres)}
