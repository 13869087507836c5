"""A small related-word lexicon: for a theme word, nouns and adjectives that belong to its scene, so lines
about "rain" can speak of clouds, puddles and umbrellas. Lookups go both ways (a word listed under
"rain" leads back to "rain" and its neighbours)."""

from __future__ import annotations

from functools import cache

RELATED: dict[str, tuple[str, ...]] = {
    "rain": ("cloud", "storm", "puddle", "thunder", "umbrella", "grey", "window", "drop"),
    "night": ("moon", "star", "dark", "midnight", "shadow", "lamp", "dream", "sky"),
    "city": ("street", "lights", "neon", "tower", "traffic", "subway", "avenue", "town"),
    "sea": ("ocean", "wave", "tide", "shore", "sand", "salt", "sail", "harbor"),
    "ocean": ("sea", "wave", "tide", "shore", "deep", "blue", "current", "sail"),
    "summer": ("sun", "heat", "beach", "july", "golden", "sunlight", "warm", "field"),
    "winter": ("snow", "cold", "frost", "ice", "december", "white", "fire", "breath"),
    "spring": ("bloom", "flower", "green", "april", "blossom", "rain", "bird", "garden"),
    "autumn": ("leaf", "leaves", "amber", "harvest", "october", "wind", "gold", "fall"),
    "love": ("heart", "kiss", "arms", "darling", "tender", "touch", "lover", "forever"),
    "heart": ("love", "beat", "chest", "soul", "blood", "pulse", "tender", "break"),
    "fire": ("flame", "spark", "ember", "smoke", "burn", "heat", "ash", "glow"),
    "road": ("highway", "mile", "wheel", "dust", "journey", "car", "map", "horizon"),
    "home": ("door", "house", "kitchen", "family", "window", "porch", "hearth", "roof"),
    "star": ("sky", "night", "light", "galaxy", "shine", "comet", "heaven", "moon"),
    "moon": ("night", "silver", "tide", "star", "pale", "glow", "sky", "lunar"),
    "sun": ("light", "morning", "gold", "day", "warm", "shine", "sky", "dawn"),
    "dream": ("sleep", "night", "wish", "cloud", "pillow", "vision", "star", "wonder"),
    "river": ("water", "stream", "bank", "current", "stone", "bridge", "flow", "valley"),
    "forest": ("tree", "pine", "moss", "leaf", "wood", "trail", "deer", "branch"),
    "train": ("rail", "track", "station", "whistle", "platform", "ticket", "carriage", "line"),
    "dance": ("floor", "rhythm", "beat", "feet", "spin", "music", "groove", "party"),
    "party": ("dance", "lights", "music", "friends", "crowd", "glitter", "beat", "night"),
    "phone": ("call", "screen", "message", "signal", "ring", "voice", "line", "battery"),
    "morning": ("dawn", "coffee", "sun", "light", "window", "bird", "early", "day"),
    "firefly": ("glow", "light", "summer", "night", "spark", "field", "jar", "dusk"),
    "fireflies": ("glow", "light", "summer", "night", "spark", "field", "jar", "dusk"),
    "light": ("glow", "shine", "bright", "lamp", "sun", "spark", "beam", "day"),
    "kyoto": ("temple", "blossom", "lantern", "shrine", "garden", "bamboo", "tea", "spring"),
    "war": ("battle", "soldier", "gun", "smoke", "flag", "border", "march", "peace"),
    "freedom": ("wings", "open", "sky", "road", "free", "flight", "wild", "chain"),
    "time": ("clock", "hour", "minute", "yesterday", "forever", "moment", "years", "season"),
    "money": ("gold", "cash", "diamond", "bank", "rich", "dollar", "chain", "deal"),
    "friend": ("together", "laugh", "hand", "brother", "sister", "side", "trust", "road"),
    "mountain": ("peak", "snow", "stone", "valley", "cliff", "sky", "trail", "high"),
}


@cache
def related(word: str) -> tuple[str, ...]:
    """Words that belong to `word`'s scene: its own list, and the lists it appears in."""
    word = word.lower()
    found = list(RELATED.get(word, ()))
    for stem in (word[:-1], word[:-2], word[:-3] + "y"):  # rainy -> rain, lights -> light, cities -> city
        if len(stem) > 2 and word[: len(stem) - 1] == stem[:-1] and stem in RELATED:
            found += [stem, *RELATED[stem]]
    for head, words in RELATED.items():
        if word in words and head != word:
            found += [head, *words]
    return tuple(dict.fromkeys(w for w in found if w != word))
