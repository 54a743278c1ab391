"""Built-in value-neutral preference pairs, no download: mechanical tasks and answers with a quality concept.

Mechanical families (arithmetic, units, format, ...) pit a right against a wrong short answer; quality
families (`interp.training.quality`: on-topic vs off-topic, answer vs evasion, complete vs truncated,
correct vs wrong given facts, polite vs curt, instruction followed vs ignored) carry the kind of
"good response" difference real preference data reward, without value words. Every pair is a pure
function of (seed, index), so any prefix is reproducible and cheap; families take turns (pair i has
family i mod the number of families), so every prefix is balanced; within every family the chosen answer
is the longer one in about half the pairs (a fair coin per pair), so length carries no preference.
`DEFAULT_FAMILIES` leaves out families an RM cannot learn (at chance after training, see README).

>>> pairs = neutral_pairs(len(DEFAULT_FAMILIES), seed=0)
>>> [p.family for p in pairs] == list(DEFAULT_FAMILIES)
True
>>> neutral_pairs(3, seed=1) == neutral_pairs(3, seed=1)
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

from interp._util.errors import UserError
from interp.training.pairs import PreferencePair
from interp.training.quality import QUALITY_FAMILIES, balanced

Task = tuple[str, str, str]  # prompt, right answer, wrong answer

OBJECTS = (
    "table",
    "chair",
    "window",
    "pencil",
    "river",
    "garden",
    "bottle",
    "basket",
    "candle",
    "mirror",
    "ladder",
    "carpet",
    "kettle",
    "lemon",
    "tomato",
    "bicycle",
    "blanket",
    "button",
    "spoon",
    "teapot",
    "hammer",
    "jacket",
    "violin",
    "wagon",
    "onion",
    "ribbon",
    "shovel",
    "tunnel",
    "pebble",
    "saucer",
    "anchor",
    "barrel",
    "cabbage",
    "drawer",
    "engine",
    "feather",
    "glove",
    "helmet",
    "island",
    "jigsaw",
    "kitchen",
    "lantern",
    "magnet",
    "napkin",
    "oven",
    "pillow",
    "pocket",
    "quilt",
    "rocket",
    "saddle",
    "tablet",
    "umbrella",
    "vessel",
    "walnut",
    "yogurt",
    "zipper",
    "biscuit",
    "cactus",
    "desk",
    "flute",
)
COLOURS = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple", "grey", "brown")
COUNTABLES = ("apples", "pencils", "stamps", "marbles", "books", "cups", "coins", "shells", "keys", "buttons")
NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kemi", "Lars")
UNITS = (
    ("kilometres", "metres", 1000),
    ("metres", "centimetres", 100),
    ("kilograms", "grams", 1000),
    ("hours", "minutes", 60),
    ("minutes", "seconds", 60),
    ("days", "hours", 24),
    ("weeks", "days", 7),
    ("litres", "millilitres", 1000),
    ("years", "months", 12),
    ("feet", "inches", 12),
)
NUMBER_ONLY = ("Answer with the number only.", "Reply with just the number.", "Give only the number.")


def _near_miss(rng: random.Random, right: int) -> int:
    """A plausible wrong number: off by a small amount or by a power of ten."""
    wrong = right + rng.choice((-10, -2, -1, 1, 2, 10))
    return wrong if wrong != right else right + 1


def arithmetic(rng: random.Random) -> Task:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice("+-*")
    right = a + b if op == "+" else a - b if op == "-" else a * b
    symbol = {"+": "+", "-": "-", "*": "×"}[op]
    return f"What is {a} {symbol} {b}? {rng.choice(NUMBER_ONLY)}", str(right), str(_near_miss(rng, right))


def units(rng: random.Random) -> Task:
    big, small, factor = rng.choice(UNITS)
    x = rng.randint(2, 20)
    wrong_factor = rng.choice([f for _, _, f in UNITS if f != factor])
    prompt = f"How many {small} are in {x} {big}? {rng.choice(NUMBER_ONLY)}"
    return prompt, str(x * factor), str(x * wrong_factor)


def format_following(rng: random.Random) -> Task:
    word = rng.choice(OBJECTS)
    kind = rng.randrange(3)
    if kind == 0:
        return f"Write the word '{word}' in capital letters.", word.upper(), word
    if kind == 1:
        n = rng.randint(2, 4)
        wrong = n + rng.choice((-1, 1))
        return (
            f"Repeat the word '{word}' exactly {n} times, separated by spaces.",
            " ".join([word] * n),
            " ".join([word] * wrong),
        )
    return (f"Spell the word '{word}' with a hyphen between its letters.", "-".join(word), word)


def given_facts(rng: random.Random) -> Task:
    if rng.random() < 0.5:
        (o1, o2), (c1, c2) = rng.sample(OBJECTS, 2), rng.sample(COLOURS, 2)
        return (
            f"The {o1} is {c1} and the {o2} is {c2}. What colour is the {o2}? Answer in one word.",
            c2.capitalize(),
            c1.capitalize(),
        )
    (n1, n2), (k1, k2) = rng.sample(NAMES, 2), rng.sample(range(1, 13), 2)
    thing = rng.choice(COUNTABLES)
    return (
        f"{n1} has {k1} {thing} and {n2} has {k2} {thing}. How many {thing} does {n2} have? {rng.choice(NUMBER_ONLY)}",
        str(k2),
        str(k1),
    )


def sorting(rng: random.Random) -> Task:
    if rng.random() < 0.5:
        numbers = rng.sample(range(1, 100), rng.randint(3, 5))
        prompt = f"Sort these numbers from smallest to largest: {', '.join(map(str, numbers))}."
        return prompt, ", ".join(map(str, sorted(numbers))), ", ".join(map(str, sorted(numbers, reverse=True)))
    words = rng.sample(OBJECTS, rng.randint(3, 4))
    right = sorted(words)
    wrong = list(right)
    i = rng.randrange(len(wrong) - 1)
    wrong[i], wrong[i + 1] = wrong[i + 1], wrong[i]
    return f"Put these words in alphabetical order: {', '.join(words)}.", ", ".join(right), ", ".join(wrong)


def counting(rng: random.Random) -> Task:
    if rng.random() < 0.5:
        word = rng.choice(OBJECTS)
        return (
            f"How many letters are in the word '{word}'? {rng.choice(NUMBER_ONLY)}",
            str(len(word)),
            str(len(word) + rng.choice((-1, 1))),
        )
    items = rng.sample(OBJECTS, rng.randint(3, 7))
    return (
        f"How many items are in this list: {', '.join(items)}? {rng.choice(NUMBER_ONLY)}",
        str(len(items)),
        str(len(items) + rng.choice((-1, 1))),
    )


def comparison(rng: random.Random) -> Task:
    a, b = rng.sample(range(100, 1000), 2)
    return f"Which number is larger, {a} or {b}? Answer with the number only.", str(max(a, b)), str(min(a, b))


MECHANICAL_FAMILIES: dict[str, Callable[[random.Random], Task]] = {
    "arithmetic": arithmetic,
    "units": units,
    "format": format_following,
    "given_facts": given_facts,
    "sorting": sorting,
    "counting": counting,
    "comparison": comparison,
}
FAMILIES: dict[str, Callable[[random.Random], Task]] = {**MECHANICAL_FAMILIES, **QUALITY_FAMILIES}
DEFAULT_FAMILIES: tuple[str, ...] = tuple(FAMILIES)


def _families(families: Sequence[str] | None) -> list[str]:
    chosen = list(DEFAULT_FAMILIES) if families is None else list(families)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown or not chosen:
        raise UserError(
            f"Unknown neutral task family '{unknown[0] if unknown else ''}'; choose from: {', '.join(FAMILIES)}."
        )
    return chosen


def neutral_pair(index: int, seed: int = 0, families: Sequence[str] | None = None) -> PreferencePair:
    """Pair number `index` of the stream for `seed` (random access, no state)."""
    names = _families(families)
    family = names[index % len(names)]
    prompt, right, wrong = balanced(FAMILIES[family], random.Random(f"neutral:{seed}:{index}"))
    return PreferencePair(prompt, right, wrong, family)


def iter_neutral(seed: int = 0, families: Sequence[str] | None = None) -> Iterator[PreferencePair]:
    """An endless, lazily generated stream of neutral pairs."""
    names = _families(families)
    index = 0
    while True:
        yield neutral_pair(index, seed, names)
        index += 1


def neutral_pairs(n: int, seed: int = 0, families: Sequence[str] | None = None) -> list[PreferencePair]:
    """The first `n` pairs of the stream for `seed`, families taking turns."""
    if n < 1:
        raise UserError(f"The number of pairs must be at least 1, not {n}.")
    names = _families(families)
    return [neutral_pair(i, seed, names) for i in range(n)]
