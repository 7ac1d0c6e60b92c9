"""Cluster mode's rules, shared by the migrations (which tables are sharded, how the local
tables are named) and the sink (which shard a partition's rows go to).

Why the sink routes instead of inserting through the Distributed tables: a Distributed
insert is split and forwarded later (or synchronously, but then still by the initiator),
so a retried insert after a crash can reach a different replica set from the original, and
a replica set only knows the ``insert_deduplication_token`` of blocks it received itself.
Inserting a partition's rows into the ``*_local`` tables of one shard, picked by a function
of nothing but (topic, partition), sends every retry where its original went.
"""

from __future__ import annotations

import math
import zlib

# Tables with one replica set over every node instead of one per shard: small, read by any
# node, and never aggregated across shards. The sink's state (intents) is here so that the
# next owner of a partition finds it whichever node it reaches (docs/reliability.md); the
# provinces so every shard can join them locally; the migration records so every node
# knows the schema's version. Every other table is sharded.
UNSHARDED_TABLES = frozenset(
    {
        "provinces",
        "sink_batches",
        "sink_intents",
        "pipeline_flushes",
        "schema_migrations",
        "schema_migration_steps",
    }
)
LOCAL_SUFFIX = "_local"


def is_sharded(table: str) -> bool:
    return table not in UNSHARDED_TABLES


def local_name(table: str) -> str:
    """The name a table's rows are stored under on each node: ``events_local`` for a sharded
    table (``events`` is then its Distributed table), the name itself for an unsharded one."""
    return table + LOCAL_SUFFIX if is_sharded(table) else table


def shard_for(topic: str, partition: int, shards: int) -> int:
    """The shard (0-based, in ``remote_servers`` order) a partition's rows are inserted into.

    A function of the topic's name and the partition only, so it is the same in every
    process, after every restart and whoever owns the partition. Consecutive partitions of
    a topic go to consecutive shards: a topic whose partition count is a multiple of the
    shard count is spread exactly evenly. (CRC-32 and not Python's ``hash``, which is
    salted per process.)
    """
    if shards < 1:
        raise ValueError("a cluster has at least one shard")
    if partition < 0:
        raise ValueError("a partition number is not negative")
    return (zlib.crc32(topic.encode("utf-8")) + partition) % shards


def deduplication_window(partitions: int, flush_interval_s: float, replay_within_s: float) -> int:
    """The smallest ``replicated_deduplication_window`` (blocks per table, per shard) that
    still holds a block's hash when its replay arrives.

    A replay comes at most ``replay_within_s`` after the original insert (the time a
    partition can go unowned: the consumer session timeout, a restart, and the flushes it
    had in flight). Meanwhile every writer keeps inserting: at most one writer per
    partition (a consumer group gives a partition to one member), each sending one block
    per table per shard per flush. So the window must cover ``partitions`` writers times
    the flushes each makes in that time, plus the one flush a worker can leave incomplete
    (the sink writes and commits one flush at a time, docs/reliability.md).
    """
    if partitions < 1 or flush_interval_s <= 0 or replay_within_s < 0:
        raise ValueError("partitions >= 1, flush interval > 0 and replay time >= 0")
    return partitions * (math.ceil(replay_within_s / flush_interval_s) + 1)


# The sessions that write on a cluster, the workers' and the migrator's
# (docs/reliability.md, "On a cluster"): an insert is
# acknowledged once a majority of its shard's replicas has it, one at a time per table so
# that a read with sequential consistency sees every acknowledged insert, whichever replica
# it reaches: the next owner of a partition reads the intents and the written event ids
# that way. A repeated block is dropped from the views' targets too.
SESSION_SETTINGS = {
    "insert_quorum": "auto",
    "insert_quorum_parallel": "0",
    "select_sequential_consistency": "1",
    "deduplicate_blocks_in_dependent_materialized_views": "1",
}
