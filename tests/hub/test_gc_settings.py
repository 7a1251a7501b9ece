"""Each worker's garbage collector as HUB_GC_THRESHOLD and HUB_GC_FREEZE say."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from hub.app import tune_garbage_collector
from hub.config import Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_collector")
def test_a_worker_freezes_its_start_up_objects_and_collects_young_ones_at_the_threshold() -> None:
    gc.unfreeze()
    made_at_start_up: list[list[int]] = [[] for _ in range(100)]  # tracked containers

    tune_garbage_collector(Settings())

    assert gc.get_threshold()[0] == Settings().gc_threshold == 50_000
    assert gc.get_freeze_count() >= len(made_at_start_up)


@pytest.mark.usefixtures("restored_collector")
def test_python_s_own_collector_settings_can_be_chosen() -> None:
    gc.unfreeze()

    tune_garbage_collector(Settings(gc_threshold=700, gc_freeze=False))

    assert gc.get_threshold()[0] == 700
    assert gc.get_freeze_count() == 0


def test_a_threshold_that_would_collect_all_the_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="gc_threshold"):
        Settings(gc_threshold=10)
