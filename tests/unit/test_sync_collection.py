"""The sync run's relaxed garbage collection (decision 0912): raised during runs, restored after the last."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bridge.services.sync.collection import RUN_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_a_run_raises_the_youngest_threshold_and_restores_all_three_after(thresholds: tuple[int, int, int]) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (RUN_THRESHOLD, 10, 10)
    assert gc.get_threshold() == thresholds


def test_overlapping_runs_restore_the_process_thresholds_when_the_last_one_ends(
    thresholds: tuple[int, int, int],
) -> None:
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert gc.get_threshold() == (RUN_THRESHOLD, 10, 10)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == thresholds


def test_a_failed_run_restores_the_thresholds(thresholds: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("Keycloak went away")
    assert gc.get_threshold() == thresholds
