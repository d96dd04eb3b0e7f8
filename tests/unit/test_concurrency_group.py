"""The real-thread tests share one worker under ``make test`` (``-n auto --dist loadgroup``).

xdist keeps a group on one worker by renaming each grouped test's nodeid to end in
``@<group>``; ``tests/conftest.py`` marks every ``concurrency`` test with that group. The
grouping silently stopped when xdist's hook ran before ours, and under pytest 9, which
no longer reads a renamed nodeid: this test, itself in the group, sees its own nodeid.
"""

from __future__ import annotations

import os

import pytest


@pytest.mark.concurrency
def test_a_real_thread_test_is_grouped_under_loadgroup(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getvalue("loadgroup"):
        pytest.skip("only under pytest -n --dist loadgroup, as make test runs")
    assert request.node.nodeid.endswith("@concurrency"), request.node.nodeid
