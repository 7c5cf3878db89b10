"""The synthetic event catalogue and how one day of one event is drawn.

A day is drawn from `random.Random(f"{seed}|{day}|{event}")` alone, so any day of any year can be
produced on demand, in any order, by any thread, and always comes out the same: benchmarks backfill
thousands of days and tests recompute counts from raw events without sharing state.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import random
from collections.abc import Callable, Sequence

PropertyValue = str | int | float
# The seed of an account's data: the emulator's `--seed`, with the account id mixed in for any
# account but the demo one (see `data_seed`).
DataSeed = int | str

STRING = "string"
NUMBER = "number"

FOODS = (
    "pizza",
    "pizza margherita",
    "pepperoni pizza",
    "sushi",
    "pasta",
    "ramen",
    "tacos",
    "burger",
    "salad",
    "curry",
)
PLATFORMS = ("Android", "iOS", "Web")
CATEGORIES = ("Books", "Electronics", "Toys", "Home & Kitchen", "Grocery", "Fashion")
CURRENCIES = ("USD", "EUR", "INR", "GBP")


@dataclasses.dataclass(frozen=True)
class PropertySpec:
    """One event property: its CleverTap type, how often it is sent, and how a value is drawn.

    `presence` below 1 leaves some events without the property, which is what makes
    `exists` / `does_not_exist` mean something.
    """

    kind: str
    presence: float
    draw: Callable[[random.Random], PropertyValue]


@dataclasses.dataclass(frozen=True)
class EventSpec:
    """One event: mean occurrences per day, and its properties."""

    per_day: int
    properties: dict[str, PropertySpec]


def _food(rng: random.Random) -> PropertyValue:
    return rng.choices(FOODS, weights=(6, 2, 2, 4, 4, 2, 2, 3, 1, 1))[0]


CATALOGUE: dict[str, EventSpec] = {
    "choseNewFavoriteFood": EventSpec(
        per_day=300,
        properties={"value": PropertySpec(STRING, 0.97, _food)},
    ),
    "App Launched": EventSpec(
        per_day=1200,
        properties={
            "platform": PropertySpec(STRING, 0.95, lambda r: r.choice(PLATFORMS)),
            "session_length": PropertySpec(NUMBER, 0.9, lambda r: r.randint(1, 1800)),
        },
    ),
    "Product Viewed": EventSpec(
        per_day=600,
        properties={
            "category": PropertySpec(STRING, 1.0, lambda r: r.choice(CATEGORIES)),
            "price": PropertySpec(NUMBER, 0.98, lambda r: round(r.uniform(1, 500), 2)),
        },
    ),
    "Charged": EventSpec(
        per_day=150,
        properties={
            "amount": PropertySpec(NUMBER, 1.0, lambda r: round(r.uniform(5, 1000), 2)),
            "currency": PropertySpec(STRING, 0.97, lambda r: r.choice(CURRENCIES)),
            # CleverTap takes booleans as the strings "True"/"False".
            "is_first": PropertySpec(
                STRING, 1.0, lambda r: "True" if r.random() < 0.15 else "False"
            ),
        },
    ),
}

EVENTS: dict[str, dict[str, str]] = {
    name: {prop: spec.kind for prop, spec in event.properties.items()}
    for name, event in CATALOGUE.items()
}

# Weekends are busier, as in most consumer apps; it makes day counts visibly uneven.
_WEEKDAY_FACTOR = (0.9, 0.85, 0.9, 0.95, 1.05, 1.25, 1.2)


@dataclasses.dataclass(frozen=True)
class DayEvents:
    """One day of one event, stored by column: tuples of ints and floats stay small in a cache
    that may hold a thousand days."""

    profiles: tuple[int, ...]
    columns: dict[str, tuple[PropertyValue | None, ...]]

    def __len__(self) -> int:
        return len(self.profiles)

    def as_dicts(self) -> list[dict[str, object]]:
        """Raw events as plain dicts, for brute-force checks in tests."""
        names = list(self.columns)
        return [
            {
                "profile": profile,
                "properties": {
                    name: self.columns[name][i]
                    for name in names
                    if self.columns[name][i] is not None
                },
            }
            for i, profile in enumerate(self.profiles)
        ]


def data_seed(seed: int, account_id: str, demo_account_id: str) -> DataSeed:
    """Each account its own data, so a test can tell a swapped or lost account; the demo
    account keeps the plain seed, so its numbers (the demo's, the tests') never change."""
    return seed if account_id == demo_account_id else f"{seed}|account={account_id}"


def profile_weights(seed: DataSeed, event: str, profiles: int) -> list[float]:
    """Cumulative activity weights: a few heavy users and a long tail.

    The skew makes the same profiles come back day after day, so distinct counts over a range are
    clearly below the sum of the daily counts, as with real apps.
    """
    rng = random.Random(f"{seed}|profiles|{event}")
    # Log-normal with a wide spread: even a month of the busiest event misses many profiles.
    return list(itertools.accumulate(rng.lognormvariate(0.0, 2.0) for _ in range(profiles)))


def draw_day(
    seed: DataSeed,
    day: datetime.date,
    event: str,
    cum_weights: Sequence[float],
) -> DayEvents:
    """Every occurrence of `event` on `day`, drawn from the day's own seeded generator."""
    spec = CATALOGUE.get(event)
    if spec is None:
        return DayEvents(profiles=(), columns={})
    rng = random.Random(f"{seed}|{day.isoformat()}|{event}")
    mean = spec.per_day * _WEEKDAY_FACTOR[day.weekday()]
    size = max(0, round(mean * rng.uniform(0.7, 1.3)))
    population = range(len(cum_weights))
    profiles = tuple(rng.choices(population, cum_weights=cum_weights, k=size))
    columns: dict[str, tuple[PropertyValue | None, ...]] = {}
    for name, prop in spec.properties.items():
        columns[name] = tuple(
            prop.draw(rng) if rng.random() < prop.presence else None for _ in range(size)
        )
    return DayEvents(profiles=profiles, columns=columns)
