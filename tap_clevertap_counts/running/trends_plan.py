"""Which of a run's owed days `backfill_with_trends` sends to Trends, and why not the others.

Only never-counted days of unfiltered daily queries qualify (Trends takes no filters and
counts days): grouped by (endpoint, event), so that queries asking the same days share one
series and one check. A day that any query of a group re-counts (`lookback_days`, a full-table
sync) goes to the own endpoint for all of them: a re-count is where late data makes the two
APIs disagree; so does today, not over yet (a provisional day, `today.py`). A group with fewer
than `MIN_DAYS` such days gains too little over its checks and is counted one by one. The run
logs the outcome in one line, every query named.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from tap_clevertap_counts.api.request import PROFILES_PATH
from tap_clevertap_counts.planning.plan import Plan
from tap_clevertap_counts.planning.today import is_provisional

from .trends import CHECKS, MIN_DAYS, Group


@dataclass
class Choice:
    groups: list[Group] = field(default_factory=list)
    used: list[str] = field(default_factory=list)  # "query (stream): N days"
    skipped: list[str] = field(default_factory=list)  # "query (stream): why not"

    def positions(self) -> set[int]:
        return {position for group in self.groups for position in group.positions()}

    def describe(self) -> str:
        used = "; ".join(self.used) or "none"
        skipped = "; ".join(self.skipped) or "none"
        return (
            f"backfill_with_trends: through Trends (never-counted days, {CHECKS} days of each "
            f"series checked against the query's own endpoint): {used}. Not through Trends: "
            f"{skipped}"
        )


@dataclass
class _Member:
    name: str
    stream: str
    owed: int
    fresh: list[int] = field(default_factory=list)  # day ordinals never counted


def choose(plan: Plan, paths: Mapping[str, str], today: datetime.date) -> Choice:
    """Days counted before, and a provisional day (today, not over), stay on the own endpoint."""
    choice = Choice()
    groups: dict[tuple[str, str], tuple[dict[int, list[int]], set[int], list[_Member]]] = {}
    for stream, spec, periods, start in plan.blocks():
        label = f"{spec.name} ({stream})"
        if spec.granularity != "day":
            choice.skipped.append(f"{label}: granularity {spec.granularity}")
            continue
        if spec.event_properties:
            choice.skipped.append(f"{label}: filtered (Trends takes no filters)")
            continue
        days, recounts, members = groups.setdefault(
            (paths[stream], spec.event_name), ({}, set(), [])
        )
        member = _Member(spec.name, stream, len(periods))
        members.append(member)
        emitted = plan.counted(stream, spec)
        for offset, period in enumerate(periods):
            day = period[0].toordinal()
            if emitted.covers(period) or is_provisional(period, today):
                recounts.add(day)
            else:
                days.setdefault(day, []).append(start + offset)
                member.fresh.append(day)
    for (path, event), (days, recounts, members) in groups.items():
        trends_days = {day: positions for day, positions in days.items() if day not in recounts}
        if len(trends_days) >= MIN_DAYS:
            names = [f"'{m.name}'" for m in members if m.owed]
            label = f"quer{'y' if len(names) == 1 else 'ies'} {', '.join(names)}"
            label += f" ({members[0].stream})"
            choice.groups.append(Group(label, path, event, path == PROFILES_PATH, trends_days))
        for member in members:
            mine = f"{member.name} ({member.stream})"
            used = sum(1 for day in member.fresh if day in trends_days)
            if len(trends_days) >= MIN_DAYS and used:
                choice.used.append(f"{mine}: {used} days")
            elif member.owed < MIN_DAYS:
                choice.skipped.append(f"{mine}: {member.owed} days owed, under {MIN_DAYS}")
            else:
                choice.skipped.append(
                    f"{mine}: re-count ({member.owed} days owed, {len(member.fresh)} "
                    f"never counted before; {len(trends_days)} for its event, under {MIN_DAYS})"
                )
    return choice
