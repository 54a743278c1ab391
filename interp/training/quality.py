"""Preference pairs with a quality concept and no value words: the difference a real RM learns, minus values.

Six families, each a pure function of a seeded `random.Random`: on-topic vs off-topic answers, answers vs
evasions, complete vs truncated answers, correct vs wrong answers given facts in the prompt, polite vs curt
answers, and instructions followed vs ignored. Both sides of every family come in short and long phrasings,
and `balanced` draws, per pair, whether the chosen answer is the longer one (a fair coin), so length carries
no preference (about 50% per family). The texts avoid the agency/communion lexicon; the neutrality check
(`interp.training.neutrality`) tests that.

>>> import random
>>> prompt, chosen, rejected = balanced(on_topic, random.Random("x"))
>>> chosen != rejected
True
"""

from __future__ import annotations

import random
from collections.abc import Callable

Task = tuple[str, str, str]  # prompt, chosen, rejected

# object, what it is for, where it is usually kept
THINGS = (
    ("kettle", "boils water for tea", "in the kitchen"),
    ("ladder", "lets you reach high shelves", "in the garage"),
    ("umbrella", "keeps the rain off", "by the front door"),
    ("spoon", "stirs soup and eats cereal", "in a drawer"),
    ("pillow", "supports your head in bed", "on the bed"),
    ("hammer", "drives nails into wood", "in a toolbox"),
    ("lantern", "gives light outdoors at night", "in a shed"),
    ("blanket", "keeps you warm in bed", "in a cupboard"),
    ("bicycle", "carries one rider on two wheels", "in the hallway"),
    ("kettlebell", "is lifted for exercise", "in a gym"),
    ("shovel", "digs holes in soil", "in the garden shed"),
    ("teapot", "holds tea while it brews", "on the counter"),
    ("stapler", "joins sheets of paper", "on a desk"),
    ("colander", "drains water from pasta", "in the kitchen"),
    ("compass", "shows which way is north", "in a backpack"),
    ("thermometer", "measures temperature", "on the wall"),
    ("zipper", "closes a jacket or a bag", "on clothing"),
    ("magnet", "sticks to iron and steel", "on the fridge"),
    ("candle", "burns slowly to give light", "on a shelf"),
    ("saddle", "is where a rider sits on a horse", "in a stable"),
    ("anchor", "holds a boat in place", "on a boat"),
    ("funnel", "pours liquid into a narrow bottle", "in the kitchen"),
    ("ruler", "measures short lengths", "in a pencil case"),
    ("broom", "sweeps dust from the floor", "in a closet"),
    ("whisk", "beats eggs and cream", "in a drawer"),
    ("toaster", "browns slices of bread", "on the counter"),
    ("telescope", "makes distant stars look closer", "by a window"),
    ("padlock", "locks a gate or a locker", "on a gate"),
    ("sieve", "separates lumps from flour", "in the kitchen"),
    ("wheelbarrow", "moves soil and stones around a garden", "in the garden"),
)
CAPITALS = (
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Greece", "Athens"),
    ("Chile", "Santiago"),
    ("Portugal", "Lisbon"),
)
COLOURS = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple", "grey", "brown")
NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kemi", "Lars")
EVASIONS = (
    ("I would rather not say.", "That is not something I am going to get into right now, so I will leave it there."),
    ("Ask someone else.", "You could look that up somewhere else; I am not going to answer it here today."),
    ("No comment.", "I will skip this one, since I do not want to go into it at the moment."),
    ("Pass.", "Let us move on to another topic, as I am not going to answer that question."),
)


def _pick(rng: random.Random, short: str, long: str) -> str:
    return short if rng.random() < 0.5 else long


def on_topic(rng: random.Random) -> Task:
    (thing, use, place), (other, other_use, other_place) = rng.sample(THINGS, 2)
    prompt = rng.choice((f"What is a {thing} for?", f"Tell me what a {thing} is used for.", f"What does a {thing} do?"))
    chosen = _pick(rng, f"A {thing} {use}.", f"A {thing} {use}. It is usually kept {place}.")
    rejected = _pick(rng, f"A {other} {other_use}.", f"A {other} {other_use}. It is usually kept {other_place}.")
    return prompt, chosen, rejected


def answer_evasion(rng: random.Random) -> Task:
    if rng.random() < 0.5:
        country, capital = rng.choice(CAPITALS)
        prompt = f"What is the capital of {country}?"
        chosen = _pick(rng, f"{capital}.", f"The capital of {country} is {capital}.")
    else:
        thing, _use, place = rng.choice(THINGS)
        prompt = f"Where is a {thing} usually kept?"
        chosen = _pick(rng, f"{place.capitalize()}.", f"A {thing} is usually kept {place}.")
    return prompt, chosen, _pick(rng, *rng.choice(EVASIONS))


def complete_truncated(rng: random.Random) -> Task:
    items = rng.sample(COLOURS, rng.choice((3, 4)))
    listed = ", ".join(items[:-1]) + f" and {items[-1]}"
    thing = rng.choice(THINGS)[0]
    prompt = f"Name {len(items)} colours you could paint a {thing} in."
    chosen = _pick(rng, f"{listed.capitalize()}.", f"Here are {len(items)} colours: {listed}.")
    cut = ", ".join(items[: rng.randint(1, len(items) - 2)])
    rejected = _pick(
        rng,
        f"{cut.capitalize()}, and",
        f"Here are {len(items)} colours that come to mind when you think of paint: {cut}, and then the",
    )
    return prompt, chosen, rejected


def correct_given_facts(rng: random.Random) -> Task:
    if rng.random() < 0.5:
        (o1, _, _), (o2, _, _) = rng.sample(THINGS, 2)
        c1, c2 = rng.sample(COLOURS, 2)
        prompt = f"The {o1} is {c1} and the {o2} is {c2}. What colour is the {o2}?"
        return (
            prompt,
            _pick(rng, f"{c2.capitalize()}.", f"The {o2} is {c2}."),
            _pick(rng, f"{c1.capitalize()}.", f"The {o2} is {c1}."),
        )
    n1, n2 = rng.sample(NAMES, 2)
    k1, k2 = rng.sample(range(2, 13), 2)
    prompt = f"{n1} has {k1} marbles and {n2} has {k2} marbles. How many marbles does {n2} have?"
    return prompt, _pick(rng, f"{k2}.", f"{n2} has {k2} marbles."), _pick(rng, f"{k1}.", f"{n2} has {k1} marbles.")


def polite_curt(rng: random.Random) -> Task:
    a, b = rng.randint(2, 20), rng.randint(2, 20)
    prompt = rng.choice((f"Could you tell me what {a} plus {b} is?", f"What do you get if you add {a} and {b}?"))
    total = a + b
    chosen = _pick(rng, f"Sure, it is {total}.", f"Of course. {a} plus {b} makes {total}. I hope that is clear.")
    rejected = _pick(
        rng, f"{total}. Obviously.", f"{total}. Seriously, that is trivial, do it yourself next time and stop asking."
    )
    return prompt, chosen, rejected


def instruction_following(rng: random.Random) -> Task:
    thing, use, _place = rng.choice(THINGS)
    kind = rng.randrange(3)
    if kind == 0:
        prompt = f"Describe a {thing} in capital letters only."
        text = f"a {thing} {use}."
        return (
            prompt,
            _pick(rng, text.upper(), f"{text} it is common.".upper()),
            _pick(rng, text, f"{text} it is common."),
        )
    if kind == 1:
        prompt = f"Spell the word '{thing}' with a hyphen between its letters."
        return prompt, "-".join(thing), _pick(rng, thing, f"The word {thing} has {len(thing)} letters in it.")
    n = rng.choice((2, 3))
    prompt = f"List {n} colours for a {thing}, separated by commas, and nothing else."
    items = rng.sample(COLOURS, n)
    chosen = ", ".join(items)
    rejected = _pick(
        rng, f"{items[0].capitalize()}.", f"Well, {' and '.join(items)} are colours, and so is {rng.choice(COLOURS)}."
    )
    return prompt, chosen, rejected


QUALITY_FAMILIES: dict[str, Callable[[random.Random], Task]] = {
    "on_topic": on_topic,
    "answer_evasion": answer_evasion,
    "complete_truncated": complete_truncated,
    "correct_given_facts": correct_given_facts,
    "polite_curt": polite_curt,
    "instruction_following": instruction_following,
}


def balanced(family: Callable[[random.Random], Task], rng: random.Random, tries: int = 64) -> Task:
    """A pair of `family` whose chosen answer is longer (in characters) with probability 1/2, drawn by `rng`."""
    chosen_longer = rng.random() < 0.5
    task = family(rng)
    for _ in range(tries):
        if len(task[1]) != len(task[2]) and (len(task[1]) > len(task[2])) == chosen_longer:
            return task
        task = family(rng)
    return task
