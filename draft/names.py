"""Generated app names like the original Draft's "tufted-lamb".

Two short word lists give about 4,000 names that are valid DNS-1123 labels
and Helm release names, and are easy to say and to type.
"""

from __future__ import annotations

import random

ADJECTIVES = (
    "amber", "ample", "azure", "bold", "brave", "breezy", "bright", "brisk", "calm", "clever",
    "cosmic", "crisp", "curly", "dapper", "dazzling", "eager", "early", "fancy", "fluffy",
    "frosty", "gentle", "giddy", "golden", "grand", "happy", "hazy", "honest", "humble", "icy",
    "jolly", "keen", "kind", "lively", "lucky", "mellow", "merry", "mighty", "misty", "modest",
    "nimble", "noble", "plucky", "polite", "proud", "quick", "quiet", "rapid", "rosy", "rustic",
    "shiny", "silent", "snowy", "sunny", "swift", "tidy", "tufted", "upbeat", "vivid", "warm",
    "wise", "witty", "zany", "zesty",
)  # fmt: skip

ANIMALS = (
    "alpaca", "badger", "beaver", "bison", "bobcat", "crane", "cricket", "dingo", "dolphin",
    "eagle", "ferret", "finch", "gecko", "gibbon", "gopher", "heron", "ibis", "impala", "jackal",
    "koala", "lamb", "lemur", "lynx", "magpie", "marmot", "marten", "mole", "moose", "newt",
    "ocelot", "otter", "owl", "panda", "parrot", "pelican", "puffin", "quail", "rabbit", "raven",
    "robin", "salmon", "seal", "shrew", "sparrow", "squid", "stork", "tapir", "tiger", "toucan",
    "turtle", "vole", "walrus", "wombat", "wren", "yak", "zebra",
)  # fmt: skip


def generate(rng: random.Random | None = None) -> str:
    chooser = rng or random.SystemRandom()
    return f"{chooser.choice(ADJECTIVES)}-{chooser.choice(ANIMALS)}"
