"""The app as ``dialtone serve`` runs it: the garbage collector of a serving process."""

from __future__ import annotations

import gc

import pytest

from api import collector
from api.app import create_served_app
from api.settings import Settings


@pytest.fixture
def restored_collector():
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


def test_a_served_app_collects_young_objects_less_often_and_freezes_its_startup(
    restored_collector, monkeypatch, tmp_path
):
    monkeypatch.setenv("DIALTONE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/serve.db")
    gc.set_threshold(700, 10, 10)  # Python's defaults
    gc.unfreeze()
    app = create_served_app()
    assert app.state.settings.database_url == Settings.from_env().database_url
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, 10, 10)
    # what the app built at startup (its schema) is out of the collector's view
    assert gc.get_freeze_count() > 10_000


def test_an_import_collects_less_often_only_while_it_runs(restored_collector):
    gc.set_threshold(700, 10, 10)
    with collector.fewer_collections():
        assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() > 0  # what the import left alive is frozen, not walked again
