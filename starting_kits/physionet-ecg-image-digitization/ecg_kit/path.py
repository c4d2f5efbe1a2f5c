"""The trace through a window's columns: the cheapest path through their runs of ink (decode.track's candidates).

A run is (centroid, top, bottom, shown top, shown bottom): the rows it covers, reaching under a hidden separator
tick, and the rows it shows; a hidden stretch is (NaN, top, bottom, NaN, NaN). Moving between runs that touch costs
nothing; what else the trace may do (jump, turn back inside a run, stray from the baseline, skip a column, take a
run up after a skip) costs what the constants below say.
"""
from __future__ import annotations

import numpy as np

SPECK_PX = 2.0  # a run spanning less (1 or 2 pixels) that touches nothing beside it is noise
STRAY_COST = 0.01  # per pixel a run lies off the baseline: a row's own trace before a neighbour's complex
RESUME_COST = 0.1  # per pixel off the baseline, taking a run up after a skip (or at the window's start)
STEEP_BREAK = 0.2  # of a jump's height, what a break between two pieces of a steep stroke costs
TURN_COST = 0.01  # per pixel the trace turns back inside a run to leave it (`turn_back`)


def without_specks(candidates: list[list[tuple[float, ...]]]) -> list[list[tuple[float, ...]]]:
    """The runs less specks: a run spanning less than SPECK_PX that touches no run of either neighbouring column is
    noise (a line, however steep or faint, continues into a neighbour)."""
    def touches(run, others):
        return any(jump(other, run) == 0.0 for other in others)
    kept = []
    for i, runs in enumerate(candidates):
        left = candidates[i - 1] if i > 0 else []
        right = candidates[i + 1] if i + 1 < len(candidates) else []
        kept.append([run for run in runs if run[2] - run[1] >= SPECK_PX or touches(run, left) or touches(run, right)])
    return kept


def cheapest_path(candidates: list[list[tuple[float, ...]]], baseline: float, gap_cost: float,
                  steep_px: float = np.inf) -> list[tuple[float, ...] | None]:
    """The run chosen in each column (None: skipped), by dynamic programming over the columns: moving between runs
    that touch costs nothing, a jump costs its height (a fifth of it between two runs whose shown pixels span
    `steep_px` or more: a steep stroke's pieces), turning back inside a run costs a little (`turn_back`), straying
    from the baseline costs a little, and skipping a column costs `gap_cost` (a way round text, a blob or a gap).
    After a skip any run may be taken up again, at a cost per pixel it lies off the baseline (RESUME_COST): the
    trace hidden by a crease or a gap comes out where the row's trace is, not in text or specks far below, which
    would otherwise cost no more than skipping the columns the trace is missing from."""
    previous: list = []
    previous_cost = np.array([0.0])  # the skipped state before the first column
    previous_entry: list = []
    backs = []
    for runs in candidates:
        cost = np.full(len(runs) + 1, np.inf)
        back = np.zeros(len(runs) + 1, dtype=np.int64)
        entry: list = []
        for j, run in enumerate(runs):
            stray = max(0.0, run[1] - baseline, baseline - run[2])
            steep = run[4] - run[3] >= steep_px
            steps = [jump(prior, run) * (STEEP_BREAK if steep and prior[4] - prior[3] >= steep_px else 1.0)
                     + turn_back(prior, entered, run) for prior, entered in zip(previous, previous_entry)]
            totals = previous_cost + np.array(steps + [RESUME_COST * stray]) + STRAY_COST * stray
            back[j] = int(np.argmin(totals))
            cost[j] = totals[back[j]]
            came_from = previous[back[j]] if back[j] < len(previous) else None
            entry.append(None if came_from is None or np.isnan(came_from[0]) or np.isnan(run[3])
                         else min(max(came_from[0], run[3]), run[4]))  # where the trace comes into the run
        back[-1] = int(np.argmin(previous_cost))
        cost[-1] = previous_cost[back[-1]] + gap_cost
        backs.append(back)
        previous, previous_cost, previous_entry = runs, cost, entry
    chosen: list = [None] * len(candidates)
    state = int(np.argmin(previous_cost))
    for i in range(len(candidates) - 1, -1, -1):
        if state < len(candidates[i]):
            chosen[i] = candidates[i][state]
        state = int(backs[i][state])
    return chosen


def turn_back(prior: tuple[float, ...], entered: float | None, run: tuple[float, ...]) -> float:
    """What leaving `prior` (entered at height `entered`) for an overlapping `run` costs: TURN_COST per pixel the
    trace must come back inside `prior` beyond covering it. A steep stroke entered at its top goes on from its bottom:
    a label's speck beside its middle, as near as the stroke's own continuation, means turning back halfway. The
    entry is the one of the prior's own cheapest way in (a greedy second order), none after a skip or a tick."""
    if entered is None:
        return 0.0
    top, bottom = prior[3], prior[4]
    low, high = max(run[1], top), min(run[2], bottom)  # where the trace can cross into the run
    if low > high:
        return 0.0  # they do not overlap: the jump is the cost
    return TURN_COST * min(abs(entered - top) + bottom - high, abs(entered - bottom) + low - top)


def jump(prior: tuple[float, ...], run: tuple[float, ...]) -> float:
    """The height between two runs of neighbouring columns beyond touching (0 when they touch or overlap)."""
    return max(0.0, max(run[1] - prior[2], prior[1] - run[2]) - 1.0)
