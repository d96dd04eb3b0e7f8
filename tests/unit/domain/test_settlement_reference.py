"""Settlement equals the slow ``Decimal`` reference it replaced, on random awards (#18)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_plugin.domain.rules import Award, Rounding, RoundingScope, settle
from loyalty_plugin.domain.rules.kinds import BONUS_CAMPAIGN

ONE = Decimal(1)


def reference_settle(
    awards: Sequence[Award],
    *,
    rounding: Rounding,
    scope: RoundingScope,
    multiplier: Decimal = ONE,
    factor: Callable[[Award], Decimal] | None = None,
) -> tuple[int, list[tuple[Award, Decimal, int]]]:
    """The settlement before issue 18's speed work, kept verbatim as the reference."""
    scaled = [
        (a, a.exact * (ONE if a.kind == BONUS_CAMPAIGN else multiplier)
         * (factor(a) if factor else ONE))
        for a in awards
        if a.exact
    ]  # fmt: skip
    if scope is RoundingScope.LINE:
        items = [(a, x, rounding.apply(x)) for a, x in scaled]
        return sum(p for _, _, p in items), items
    total = rounding.apply(sum((x for _, x in scaled), Decimal(0)))
    floors = [Rounding.DOWN.apply(x) for _, x in scaled]
    left = total - sum(floors)
    order = sorted(range(len(scaled)), key=lambda i: (-(scaled[i][1] - floors[i]), i))
    for i in order:
        if left <= 0:
            break
        floors[i] += 1
        left -= 1
    if left > 0 and scaled:
        floors[0] += left
    return total, [(a, x, p) for (a, x), p in zip(scaled, floors, strict=True)]


exacts = st.one_of(
    st.decimals(min_value=0, max_value=500, places=2),
    st.tuples(st.integers(0, 100_000), st.sampled_from([3, 7, 9, 333, 999])).map(
        lambda t: Decimal(t[0]) / t[1]
    ),
    st.integers(0, 40).map(Decimal),
)
awards = st.lists(
    st.builds(
        Award,
        rule=st.sampled_from(["a", "b", "c"]),
        kind=st.sampled_from(["per_amount", "product", BONUS_CAMPAIGN]),
        exact=exacts,
        line=st.sampled_from([None, "L1", "L2"]),
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(
    awards=awards,
    rounding=st.sampled_from(list(Rounding)),
    scope=st.sampled_from(list(RoundingScope)),
    multiplier=st.sampled_from([ONE, Decimal("1.0"), Decimal("1.25"), Decimal("1.1"), Decimal(2)]),
    factor=st.sampled_from([None, Decimal("0.5"), Decimal("0.37"), Decimal(0)]),
)
def test_settlement_equals_the_reference(awards, rounding, scope, multiplier, factor) -> None:
    """Same total, same items, same exact points and whole points per item."""
    scale = None if factor is None else (lambda _a: factor)
    options = {"rounding": rounding, "scope": scope, "multiplier": multiplier, "factor": scale}
    got = settle(awards, **options)
    total, items = reference_settle(awards, **options)
    assert got.points == total
    assert [(i.award, i.exact, i.points) for i in got.items] == items
