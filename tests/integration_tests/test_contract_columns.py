"""The migrations give the raw events table a column for every field of the contract.

streams/rows.py derives the columns it inserts from the models; a field added to a model
without the migration that adds its column fails here, on the real engine, not at the first
insert of a running worker.
"""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from dxpulse.core.config import Settings
from dxpulse.streams.rows import EVENT_COLUMNS

pytestmark = pytest.mark.integration


def test_the_events_table_has_exactly_the_derived_columns(ch: Client, settings: Settings):
    rows = ch.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'events'",
        parameters={"db": settings.clickhouse.database},
    ).result_rows
    assert sorted(name for (name,) in rows) == sorted(EVENT_COLUMNS)
