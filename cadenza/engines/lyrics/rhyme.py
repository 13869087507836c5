"""The embedded lyric writer: original lines on a theme, a real rhyme scheme checked against the CMU
pronouncing dictionary, and the same number of syllables in every line of a section.

Lines come from small phrase templates filled with the theme's own words and a lexicon of images;
each candidate line is scanned with the dictionary and kept only if its syllables fit the section.
"""

from __future__ import annotations

import re
import zlib
from functools import cache

import numpy as np

from cadenza.engines.lyrics.lexicon import related
from cadenza.engines.lyrics.sheet import Section

SCHEMES = {"verse": "ABAB", "chorus": "AABB", "bridge": "AABB", "prechorus": "AABB", "intro": "AA", "outro": "AA"}
SYLLABLES = {"verse": 8, "chorus": 7, "bridge": 6, "prechorus": 7, "intro": 6, "outro": 6}
LINES = {"verse": 4, "chorus": 4, "bridge": 4, "prechorus": 2, "intro": 2, "outro": 2}

END_WORDS = (  # nouns only, so "the <adjective> <end word>" always reads
    "light night sight flight fire wire desire rain lane pain train chain sky eyes skies day way bay home stone "
    "road gold sea heart dark spark street feet beat town ground sound dream stream tide side time rhyme line "
    "sign door shore floor glow snow song throng wine bell shell well star car guitar moon tune june"
).split()
PLURAL_SUBJECTS = ["we", "I", "you", "they", "you and I", "we both", "our hearts", "the stars", "the lights"]
SINGLE_SUBJECTS = ["the night", "the city", "my heart", "the wind", "the moon", "the river", "the music", "your voice"]
VERBS = [
    "walk",
    "dance",
    "run",
    "wait",
    "fall",
    "dream",
    "sing",
    "drift",
    "hold on",
    "burn",
    "shine",
    "call",
    "turn",
    "look",
    "breathe",
    "wander",
    "follow",
    "hide",
]
PREPOSITIONS = ["through", "beneath", "across", "along", "into", "beyond", "inside", "under", "over", "toward"]
ADJECTIVES = [
    "silver",
    "golden",
    "quiet",
    "endless",
    "empty",
    "burning",
    "distant",
    "electric",
    "fading",
    "velvet",
    "broken",
    "gentle",
    "shining",
    "lonely",
    "wild",
    "restless",
    "open",
    "hidden",
]
OPENERS = ["and", "so", "now", "tonight", "still", "oh", "and now", "until", "again"]
STOPWORDS = set(
    "a an the of in on at to for and or but with from by about into over under is are was be my your our their "
    "this that these those it its i you we they he she me us them night song".split()
)


@cache
def _dictionary():
    import pronouncing

    pronouncing.init_cmu()
    return pronouncing


def syllables(text: str) -> int:
    """Syllables of a phrase: the CMU dictionary where it knows the word, vowel groups where not."""
    dictionary = _dictionary()
    total = 0
    for word in re.findall(r"[a-z']+", text.lower()):
        phones = dictionary.phones_for_word(word)
        total += dictionary.syllable_count(phones[0]) if phones else max(1, len(re.findall(r"[aeiouy]+", word)))
    return total


def rhyme_key(word: str) -> str | None:
    phones = _dictionary().phones_for_word(word.lower())
    return _dictionary().rhyming_part(phones[0]) if phones else None


def rhymes(first: str, second: str) -> bool:
    key = rhyme_key(first)
    return key is not None and key == rhyme_key(second) and first.lower() != second.lower()


def theme_words(theme: str) -> list[str]:
    words = [w for w in re.findall(r"[A-Za-z']+", theme) if w.lower() not in STOPWORDS and len(w) > 2]
    return [w for w in words if _dictionary().phones_for_word(w.lower())] or ["night"]


def scene_words(words: list[str]) -> list[str]:
    """Related words of the theme's words (the shipped lexicon) that the pronouncing dictionary knows."""
    found = [w for word in words for w in related(word) if _dictionary().phones_for_word(w)]
    return list(dict.fromkeys(found))[:12]


def title_for(theme: str, seed: int) -> str:
    """A song title from the theme: its main word, alone or with an image word, in title case."""
    words = theme_words(theme)
    rng = np.random.default_rng([seed, zlib.crc32(theme.encode())])
    nouns = [w for w in words if not w.lower().endswith(("y", "ing", "ed", "en"))] or words
    main = max(nouns, key=len)
    adjective = str(rng.choice([a for a in ADJECTIVES if a not in theme.lower()]))
    return (main if rng.random() < 0.4 else f"{adjective} {main}").title()


def _families(theme: list[str]) -> dict[str, list[str]]:
    """Rhyme families of end words, theme words first."""
    families: dict[str, list[str]] = {}
    nouns = [w.lower() for w in theme if not w[0].isupper() and not w.lower().endswith(("y", "ing", "ed"))]
    for word in nouns + list(END_WORDS):
        key = rhyme_key(word)
        if key and word not in families.setdefault(key, []):
            families[key].append(word)
    return {key: words for key, words in families.items() if len(words) >= 2}


def _line(
    rng: np.random.Generator, end: str, target: int, theme: list[str], carrying: frozenset[str] = frozenset()
) -> str | None:
    image = [w.lower() for w in theme if w.lower() != end and not w[0].isupper()]
    places = [w for w in theme if w[0].isupper()]
    adjectives = ADJECTIVES + [w for w in image if w.endswith(("y", "ing", "ed", "ful"))] * 3
    singles = SINGLE_SUBJECTS + [f"the {w}" for w in image if not w.endswith(("y", "ing", "ed"))] * 3
    openers = OPENERS + [f"in {place}" for place in places] * 4

    def subject_verb() -> str:
        if rng.random() < 0.5:
            return f"{rng.choice(PLURAL_SUBJECTS)} {rng.choice(VERBS)}"
        return f"{rng.choice(singles)} {rng.choice(VERBS)}s".replace("hold ons", "holds on")

    def tail() -> str:
        adjective = f"{rng.choice(adjectives)} " if rng.random() < 0.6 else ""
        return f"{rng.choice(PREPOSITIONS)} the {adjective}{end}"

    def make() -> str:
        opener = f"{rng.choice(openers)} " if rng.random() < 0.4 else ""
        return f"{opener}{subject_verb()} {tail()}"

    for attempt in range(500):
        candidate = make()
        if syllables(candidate) != target:
            continue
        # most attempts insist the line carries a theme word; the last ones take any line that scans
        if attempt >= 400 or not carrying or carrying & set(re.findall(r"[a-z']+", candidate.lower())):
            return candidate
    return None


def write_section(
    kind: str, rng: np.random.Generator, theme: list[str], used: set[str], carrying: frozenset[str] = frozenset()
) -> Section:
    """Lines whose end words follow the section's scheme and whose syllables all equal its target."""
    scheme = SCHEMES.get(kind, "AABB")[: LINES.get(kind, 4)]
    target = SYLLABLES.get(kind, 7)
    families = _families(theme)
    keys = sorted(families, key=lambda k: (-sum(w in [t.lower() for t in theme] for w in families[k]), k))
    preferred = keys[:3] + list(rng.permutation(keys[3:]))
    lines: list[str] = []
    chosen: dict[str, list[str]] = {}
    for letter in scheme:
        for attempt in range(60):
            if letter not in chosen:
                key = preferred[attempt % len(preferred)] if attempt < 3 else str(rng.choice(keys))
                if key in chosen.values() or any(key == rhyme_key(v[0]) for v in chosen.values()):
                    continue
                pool = [w for w in families[key] if w not in used]
                if len(pool) < scheme.count(letter):
                    continue
                chosen[letter] = list(rng.permutation(pool))
            pool = [w for w in chosen[letter] if w not in used]
            # Some end words cannot close a short line (three-syllable "desire" in six): try the next one.
            end = pool[attempt % len(pool)] if pool else None
            line = _line(rng, end, target, theme, carrying) if end else None
            if line:
                lines.append(line)
                used.add(end)
                break
            if letter in chosen and scheme.index(letter) == len(lines):
                del chosen[letter]
        else:
            raise RuntimeError(f"could not write a {kind} line")
    return Section(kind, lines)


def write_lyrics(theme: str, structure: list[str], seed: int) -> list[Section]:
    """A whole song: each chorus is the same chorus; verses and bridges are new."""
    words = theme_words(theme)
    scene = scene_words(words)
    own = frozenset(w.lower() for w in words)
    used: set[str] = set()
    written: dict[str, Section] = {}
    sections = []
    for index, kind in enumerate(structure):
        if kind == "chorus" and "chorus" in written:
            sections.append(written["chorus"])
            continue
        carrying = own | frozenset(scene)  # each line should carry a theme word or a word of its scene
        section = write_section(kind, np.random.default_rng([seed, index]), [*words, *scene], used, carrying)
        written.setdefault(kind, section)
        sections.append(section)
    return sections
