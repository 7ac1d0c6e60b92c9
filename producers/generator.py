"""Deterministic generator of realistic synthetic events (pure logic, no I/O).

Two ways to generate, both calibrated and both deterministic for a seed and event times:

- ``event(at)`` makes one event as a dict: for tests, tools and low rates.
- ``batch(at, n)`` makes ``n`` events at once, already encoded as Kafka keys and JSON values.
  Its draws are vectorised with numpy and each value is one ``%`` fill of a per-type JSON
  template with ready-made fragments, so an event costs well under a microsecond of Python.
  The two paths use separate random streams: for one seed they give different events with
  the same distributions.

Customers are shared by both paths and stable: a customer is a function of the seed, the
event type and its index only, so per-customer questions (active customers, rural share of
customers) have consistent answers.

Event ids are not drawn: an id is a keyed permutation of the event's stream (``event``,
``batch`` or ``batch_times``), its position in that stream and its event time in ms, keyed by
the seed and the run's start. One generator never repeats an id, and a rerun with the same
seed at other times or from another start sends new ids, while its other fields repeat the
same draws (see ``_EventIds``).
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import accumulate, product
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from dxpulse.core.config import EVENT_TYPES
from dxpulse.producers import calibration as cal
from dxpulse.producers.geography import TypeGeography, ordered_provinces, type_geography
from dxpulse.producers.intensity import type_weights
from dxpulse.schemas.events import SCHEMA_VERSION, format_event_time
from dxpulse.schemas.provinces import Province

_SECONDS_PER_YEAR = 365.25 * 86_400
_ID_PREFIX = {"online_payment": "P", "ecommerce_order": "E", "mobile_money": "M"}
_CASH_KINDS = ("cash_in", "cash_out")
# Customers are derived in blocks: one numpy draw per block, and a single event() only
# builds the block it needs (a generator used for a handful of events stays cheap).
_CUSTOMER_BLOCK = 4_096
_AGENT_DIGITS = 5  # agent ids are "AG" + province code + a zero-padded 5-digit number

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
ByteMatrix = npt.NDArray[np.uint8]  # (n, width) ASCII, one fixed-width string per row
ObjectArray = npt.NDArray[np.object_]


class _Choice:
    """Weighted choice with precomputed cumulative weights."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._items = list(weights)
        self._cum = list(accumulate(weights.values()))
        self._total = self._cum[-1]

    def __call__(self, rng: random.Random) -> str:
        return self._items[bisect(self._cum, rng.random() * self._total)]


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    province: Province
    area: str


class EncodedEvents(NamedTuple):
    """Events of one type from :meth:`EventGenerator.batch`, ready for Kafka."""

    event_type: str
    keys: list[bytes]  # province code: keeps a province's events in order on one partition
    values: list[bytes]  # compact JSON, as ``EventGenerator.encode`` would write it


class EventGenerator:
    def __init__(
        self,
        seed: int = 0,
        event_types: Sequence[str] = EVENT_TYPES,
        trend_origin: datetime | None = None,
        run_start: datetime | None = None,
    ) -> None:
        """``run_start``: when the run using this generator started; only the event ids
        depend on it. Without it, each stream counts from the time of its first event.
        ``trend_origin``: where the online-payment ticket trend is 1 (a run passes its
        start, so history before it has the larger tickets of the past); without it, the
        first event's time."""
        unknown = set(event_types) - set(EVENT_TYPES)
        if unknown or not event_types:
            raise ValueError(f"unknown event types: {sorted(unknown) or 'none given'}")
        self.seed = seed
        self.event_types = tuple(event_types)
        self._rng = random.Random(seed)
        self._trend_origin = trend_origin
        self._tables: dict[str, _CustomerTable] = {}
        self._customers: dict[tuple[str, int], Customer] = {}
        self._mix_key: tuple[int, int] = (-1, -1)
        self._mix: _Choice | None = None
        self._status = _Choice(cal.STATUS_WEIGHTS)
        self._methods = _Choice(cal.PAYMENT_METHODS)
        self._pay_channels = {m: _Choice(w) for m, w in cal.PAYMENT_CHANNELS.items()}
        self._providers = {k: _Choice(w) for k, w in cal.PAYMENT_PROVIDERS.items()}
        self._merchants = _Choice(cal.MERCHANT_CATEGORIES)
        self._platforms = _Choice(cal.PLATFORMS)
        self._order_payments = {a: _Choice(w) for a, w in cal.ORDER_PAYMENTS_BY_AREA.items()}
        self._order_statuses = _Choice(cal.ORDER_STATUSES)
        self._products = _Choice(cal.PRODUCT_CATEGORIES)
        self._order_channels = _Choice(cal.ORDER_CHANNELS)
        self._mm_providers = _Choice(cal.MOBILE_MONEY_PROVIDERS)
        self._mm_kinds = {a: _Choice(w) for a, w in cal.MOBILE_MONEY_KINDS_BY_AREA.items()}
        self._further = {
            t: {name: _Choice(w) for name, w in cal.FIELD_WEIGHTS.get(t, {}).items()}
            for t in EVENT_TYPES
        }
        # The batch path's own stream, so event() and batch() calls do not shift each other.
        self._np_rng = _derived_rng(f"{seed}:batch")
        # batch_times' own stream, so a backfill does not shift the live batches' draws.
        self._history_rng = _derived_rng(f"{seed}:history")
        self._batch_mix_hour = -1
        self._batch_mix: FloatArray = np.ones(1)
        self._ids = _EventIds(seed, None if run_start is None else _epoch_ms(run_start))

    # -- public API ---------------------------------------------------------------------
    def event(self, at: datetime, event_type: str | None = None) -> dict[str, Any]:
        """One event at time ``at`` (timezone-aware); type drawn from the mix unless given."""
        etype = event_type or self._pick_type(at)
        customer = self.customer(etype, self._customer_index(etype))
        rng = self._rng
        event: dict[str, Any] = {
            "event_id": self._ids.one(_EVENT_STREAM, _epoch_ms(at)),
            "event_type": etype,
            "schema_version": SCHEMA_VERSION,
            "event_time": format_event_time(at),
            "province_code": customer.province.code,
            "area": customer.area,
            "channel": "",
            "amount_vnd": 0,
            "status": self._status(rng),
            "customer_id": customer.customer_id,
        }
        if etype == "online_payment":
            self._fill_payment(event, at, customer)
        elif etype == "ecommerce_order":
            self._fill_order(event, customer)
        else:
            self._fill_mobile_money(event, customer)
        for name, choice in self._further[etype].items():
            event[name] = choice(rng)
        return event

    def batch(self, at: datetime, n: int, event_type: str | None = None) -> list[EncodedEvents]:
        """``n`` encoded events at time ``at``, grouped by type (types with none are left out).

        Types follow the mix at ``at`` (one multinomial draw of the counts) unless
        ``event_type`` is given; every field follows the same calibration as :meth:`event`.
        """
        if event_type is not None and event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type: {event_type!r}")
        types = (event_type,) if event_type else self.event_types
        counts = [n] if len(types) == 1 else self._np_rng.multinomial(n, self._mix_at(at))
        event_time = format_event_time(at)
        ids = self._ids.many(_BATCH_STREAM, np.full(n, _epoch_ms(at), dtype=np.int64))
        out, done = [], 0
        for etype, count in zip(types, counts, strict=True):
            if count:
                type_ids = ids[done : done + count]
                out.append(self._encode(etype, type_ids, at, event_time, self._np_rng))
                done += count
        return out

    def batch_at(self, times_ms: npt.NDArray[np.int64]) -> list[EncodedEvents]:
        """One event per time in ``times_ms`` (ascending epoch ms, UTC), grouped by type.

        The live path: unlike :meth:`batch`, whose events share one time, these spread over
        the times a rate gives them (producers/producer.py ``EventClock``). Types follow the
        mix at the first time, one draw per event; fields and ids as :meth:`batch`'s.
        """
        n = len(times_ms)
        if n == 0:
            return []
        at = datetime.fromtimestamp(int(times_ms[0]) / 1000, UTC)
        ids: ObjectArray = np.array(self._ids.many(_BATCH_STREAM, times_ms), dtype=object)
        if len(self.event_types) == 1:
            which = np.zeros(n, dtype=np.intp)
        else:
            which = _pick(np.cumsum(self._mix_at(at)), self._np_rng.random(n))
        out = []
        for j, etype in enumerate(self.event_types):
            mine = which == j
            if mine.any():
                times = _event_times(times_ms[mine])
                out.append(self._encode(etype, ids[mine].tolist(), at, times, self._np_rng))
        return out

    def batch_times(self, event_type: str, times_ms: npt.NDArray[np.int64]) -> EncodedEvents:
        """One event of ``event_type`` per time in ``times_ms`` (epoch ms, UTC), in order.

        For history backfill: one call spreads events over many event times, where
        :meth:`batch` gives all its events one time and costs ~50 µs a call.
        """
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type: {event_type!r}")
        if len(times_ms) == 0:
            return EncodedEvents(event_type, [], [])
        at = datetime.fromtimestamp(int(times_ms[0]) / 1000, UTC)  # for the ticket trend
        ids = self._ids.many(_HISTORY_STREAM, times_ms)
        return self._encode(event_type, ids, at, _event_times(times_ms), self._history_rng)

    def customer(self, event_type: str, index: int) -> Customer:
        key = (event_type, index)
        found = self._customers.get(key)
        if found is None:
            found = self._customers[key] = self._table(event_type).customer(index)
        return found

    @staticmethod
    def encode(event: Mapping[str, Any]) -> bytes:
        return orjson.dumps(event)

    # -- customers ----------------------------------------------------------------------
    def _customer_index(self, event_type: str) -> int:
        pool = cal.CUSTOMER_POOL[event_type]
        return int(pool * self._rng.random() ** cal.CUSTOMER_ACTIVITY_SKEW)

    def _table(self, event_type: str) -> _CustomerTable:
        table = self._tables.get(event_type)
        if table is None:
            table = self._tables[event_type] = _CustomerTable(self.seed, event_type)
        return table

    # -- per-type fields ----------------------------------------------------------------
    def _pick_type(self, at: datetime) -> str:
        if len(self.event_types) == 1:
            return self.event_types[0]
        key = (int(at.timestamp()) // 3600, 0)
        if key != self._mix_key or self._mix is None:
            weights = type_weights(at)
            self._mix = _Choice({t: weights[t] for t in self.event_types})
            self._mix_key = key
        return self._mix(self._rng)

    def _ticket(self, median: float, sigma: float) -> int:
        amount = median * math.exp(sigma * self._rng.gauss(0.0, 1.0))
        return max(1_000, int(round(amount, -3)))

    def _trend(self, at: datetime) -> float:
        if self._trend_origin is None:
            self._trend_origin = at
        years = (at - self._trend_origin).total_seconds() / _SECONDS_PER_YEAR
        return float(cal.TICKET_TREND_PER_YEAR**years)

    def _fill_payment(self, event: dict[str, Any], at: datetime, customer: Customer) -> None:
        rng = self._rng
        method = self._methods(rng)
        median, sigma = cal.PAYMENT_TICKETS[method]
        event["channel"] = self._pay_channels[method](rng)
        scale = self._trend(at) * _area_ticket("online_payment", customer.area)
        event["amount_vnd"] = self._ticket(median * scale, sigma)
        event["method"] = method
        event["provider"] = self._providers[_payment_family(method)](rng)
        event["merchant_category"] = self._merchants(rng)

    def _fill_order(self, event: dict[str, Any], customer: Customer) -> None:
        rng = self._rng
        median, sigma = cal.ORDER_TICKET
        event["channel"] = self._order_channels(rng)
        event["amount_vnd"] = self._ticket(
            median * _area_ticket("ecommerce_order", customer.area), sigma
        )
        event["platform"] = self._platforms(rng)
        event["product_category"] = self._products(rng)
        event["payment_method"] = self._order_payments[customer.area](rng)
        failed = event["status"] == "failed"
        event["order_status"] = "cancelled" if failed else self._order_statuses(rng)

    def _fill_mobile_money(self, event: dict[str, Any], customer: Customer) -> None:
        rng = self._rng
        kind = self._mm_kinds[customer.area](rng)
        median, sigma = cal.MOBILE_MONEY_TICKETS[kind]
        scale = _area_ticket("mobile_money", customer.area)
        event["amount_vnd"] = self._ticket(median * scale, sigma)
        event["provider"] = self._mm_providers(rng)
        event["kind"] = kind
        if kind in _CASH_KINDS:
            event["channel"] = "agent"
            agents = _agent_pool(customer.province)
            event["agent_id"] = f"AG{customer.province.code}{rng.randrange(agents):05d}"
        else:
            ussd = cal.MOBILE_MONEY_USSD_SHARE[customer.area]
            event["channel"] = "ussd" if rng.random() < ussd else "mobile_app"
            event["agent_id"] = None

    # -- batch path ---------------------------------------------------------------------
    def _mix_at(self, at: datetime) -> FloatArray:
        hour = int(at.timestamp()) // 3600  # the mix changes by the hour, like _pick_type's
        if hour != self._batch_mix_hour:
            weights = type_weights(at)
            shares = np.array([weights[t] for t in self.event_types])
            self._batch_mix, self._batch_mix_hour = shares / shares.sum(), hour
        return self._batch_mix

    def _encode(
        self,
        etype: str,
        ids: list[bytes],
        at: datetime,
        event_time: str | list[bytes],
        rng: np.random.Generator,
    ) -> EncodedEvents:
        """One event per id; ``event_time``: one time for all of them, or one each."""
        n = len(ids)
        table = self._table(etype)
        skewed = rng.random(n) ** cal.CUSTOMER_ACTIVITY_SKEW  # as _customer_index draws it
        index = (cal.CUSTOMER_POOL[etype] * skewed).astype(np.intp)
        table.ensure(index)
        head = [ids, table.fragments[index].tolist()]
        rural = table.rural[index]
        if etype == "online_payment":
            rest = _payment_columns(rng, rural, self._trend(at))
        elif etype == "ecommerce_order":
            rest = _order_columns(rng, rural)
        else:
            rest = _mobile_money_columns(rng, table, index)
        further = _further_fields(etype)
        if further is not None:
            rest.append(further.take(further.draw(rng, n)))
        if isinstance(event_time, str):
            template = _TEMPLATES[etype].replace(b"@TIME@", event_time.encode())
        else:  # the time becomes a field of its own, right after the event_id
            template = _TEMPLATES[etype].replace(b"@TIME@", b"%b")
            head.insert(1, event_time)
        values = [template % fields for fields in zip(*head, *rest, strict=True)]
        return EncodedEvents(etype, _geography().keys[table.province[index]].tolist(), values)


# --- batch path: fields as columns ----------------------------------------------------
# Each ``%b`` takes a ready-made JSON fragment ("name":"value",...), ``%d`` the amount. The
# vocabularies are fixed identifiers, so no fragment needs JSON escaping.
_HEAD = (
    b'{"event_id":"%b","event_type":"@TYPE@","schema_version":'
    + str(SCHEMA_VERSION).encode()
    + b',"event_time":"@TIME@",%b'
)
_TEMPLATES = {
    # cal.FIELD_WEIGHTS' fields, if the type has any, are one more fragment at the end.
    etype: _HEAD.replace(b"@TYPE@", etype.encode())
    + (tail[:-1] + b",%b}" if cal.FIELD_WEIGHTS.get(etype) else tail)
    for etype, tail in {
        # fragments: channel+method+provider, amount, status+merchant_category
        "online_payment": b',%b,"amount_vnd":%d,%b}',
        # fragments: channel+platform, amount, product+payment, status+order_status
        "ecommerce_order": b',%b,"amount_vnd":%d,%b,%b}',
        # fragments: amount, status, provider+kind, channel+agent_id
        "mobile_money": b',"amount_vnd":%d,%b,%b,%b}',
    }.items()
}


class _Fragments:
    """A categorical draw whose outcomes are ready-made JSON fragments."""

    def __init__(self, outcomes: Mapping[bytes, float]) -> None:
        self.outcomes = dict(outcomes)
        self.fragments: ObjectArray = np.array(list(outcomes), dtype=object)
        cum = np.cumsum(np.fromiter(outcomes.values(), dtype=np.float64))
        self._cum: FloatArray = cum / cum[-1]

    def draw(self, rng: np.random.Generator, n: int) -> IntArray:
        return _pick(self._cum, rng.random(n))

    def take(self, drawn: IntArray) -> list[bytes]:
        taken: list[bytes] = self.fragments[drawn].tolist()
        return taken


class _AreaFragments(_Fragments):
    """A categorical draw whose weights depend on the customer's area (same outcomes)."""

    def __init__(self, by_area: Mapping[str, Mapping[bytes, float]]) -> None:
        super().__init__(by_area["urban"])
        rural = _Fragments(by_area["rural"])
        if list(rural.fragments) != list(self.fragments):
            raise ValueError("rural and urban draws must have the same outcomes, in order")
        self._rural_cum = rural._cum

    def draw_by_area(self, rng: np.random.Generator, rural: npt.NDArray[np.bool_]) -> IntArray:
        u = rng.random(len(rural))
        return np.where(rural, _pick(self._rural_cum, u), _pick(self._cum, u)).astype(np.intp)


def _area_ticket(event_type: str, area: str) -> float:
    geo = type_geography(event_type)
    return geo.rural_ticket if area == "rural" else geo.urban_ticket


def _area_tickets(event_type: str, rural: npt.NDArray[np.bool_]) -> FloatArray:
    geo = type_geography(event_type)
    return np.where(rural, geo.rural_ticket, geo.urban_ticket)


def _payment_columns(
    rng: np.random.Generator, rural: npt.NDArray[np.bool_], trend: float
) -> list[Iterable[Any]]:
    tables, n = _payment_tables(), len(rural)
    drawn = tables.channel_method_provider.draw(rng, n)
    scale = trend * _area_tickets("online_payment", rural)
    median, sigma = tables.medians[drawn] * scale, tables.sigmas[drawn]
    tail = tables.status_merchant.take(tables.status_merchant.draw(rng, n))
    return [tables.channel_method_provider.take(drawn), _tickets(rng, median, sigma), tail]


def _order_columns(rng: np.random.Generator, rural: npt.NDArray[np.bool_]) -> list[Iterable[Any]]:
    tables, n = _order_tables(), len(rural)
    median, sigma = cal.ORDER_TICKET
    return [
        tables.channel_platform.take(tables.channel_platform.draw(rng, n)),
        _tickets(rng, median * _area_tickets("ecommerce_order", rural), np.full(n, sigma)),
        tables.product_payment.take(tables.product_payment.draw_by_area(rng, rural)),
        tables.status_order.take(tables.status_order.draw(rng, n)),
    ]


def _mobile_money_columns(
    rng: np.random.Generator, table: _CustomerTable, index: IntArray
) -> list[Iterable[Any]]:
    tables, geo, n = _mobile_money_tables(), _geography(), len(index)
    rural = table.rural[index]
    kind = tables.kinds.draw_by_area(rng, rural)
    provider = tables.providers.draw(rng, n)
    medians = tables.medians[kind] * _area_tickets("mobile_money", rural)
    amounts = _tickets(rng, medians, tables.sigmas[kind])
    status = tables.status.take(tables.status.draw(rng, n))
    provider_kind = tables.provider_kind[provider * len(tables.kinds.fragments) + kind]
    province = table.province[index]
    ussd_share = np.where(rural, tables.ussd_rural, tables.ussd_urban)
    ussd = rng.random(n) < ussd_share
    agent_no = (rng.random(n) * geo.agents[province]).astype(np.intp)
    channel = tables.app_or_ussd[ussd.astype(np.intp)]
    cash = tables.is_cash[kind]
    if cash.any():
        agent = b'"channel":"agent","agent_id":"AG'
        digits = _digits(agent_no[cash])
        channel[cash] = _strings(_join(agent, geo.codes[province[cash]], digits, b'"'))
    return [amounts, status, provider_kind.tolist(), channel.tolist()]


def _tickets(rng: np.random.Generator, median: FloatArray, sigma: FloatArray) -> list[int]:
    """Log-normal tickets rounded to 1,000 VND, at least 1,000 (as ``_ticket`` draws them)."""
    amount = median * np.exp(sigma * rng.standard_normal(len(median)))
    tickets: list[int] = np.maximum(1_000, np.round(amount, -3)).astype(np.int64).tolist()
    return tickets


_DAY_MS = 86_400_000


def _event_times(times_ms: npt.NDArray[np.int64]) -> list[bytes]:
    """Epoch milliseconds as ``format_event_time`` writes them (UTC, ms, ``Z``).

    Times within one UTC day (every live step, every backfill chunk) share the date: the
    clock part is written as digits with integer arithmetic, 10× cheaper than numpy's
    datetime formatting, which is kept for steps that cross midnight.
    """
    day = int(times_ms.min()) // _DAY_MS
    if int(times_ms.max()) // _DAY_MS != day:
        text = np.datetime_as_string(np.asarray(times_ms, dtype="datetime64[ms]"), unit="ms")
        stamps: list[bytes] = np.char.add(text.astype("S23"), b"Z").tolist()
        return stamps
    date = str(np.datetime64(day, "D")).encode() + b"T"
    ms = (np.asarray(times_ms, dtype=np.int64) - day * _DAY_MS).astype(np.intp)
    return _strings(
        _join(
            date, _digits(ms // 3_600_000, 2), b":", _digits(ms // 60_000 % 60, 2), b":",
            _digits(ms // 1000 % 60, 2), b".", _digits(ms % 1000, 3), b"Z",
        )
    )  # fmt: skip


# --- event ids ------------------------------------------------------------------------
# The generator's streams of events, each with its own positions.
_EVENT_STREAM, _BATCH_STREAM, _HISTORY_STREAM = 0, 1, 2
_POSITION_BITS = 58  # slot = stream << 58 | position: 60 bits, the permutation's left half
_LEFT_BITS, _RIGHT_BITS = 60, 62  # 122 bits: a UUID less its version and variant bits
_LEFT_MASK, _RIGHT_MASK = (1 << _LEFT_BITS) - 1, (1 << _RIGHT_BITS) - 1
_MASK64 = (1 << 64) - 1
_MIX1, _MIX2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53  # MurmurHash3's 64-bit finalizer


class _EventIds:
    """Event ids of one generator: a keyed permutation of (stream, position, event ms).

    Why a permutation and not random draws: an id must identify one event across runs too.
    Drawn ids repeat whenever the seed does, so a rerun re-sent the first run's ids and the
    worker dropped them as duplicates. Here the id is a bijection (a 4-round Feistel
    network) of the event's slot (stream and position) and its event time, so one
    generator never repeats an id, by construction. The key comes from the seed and the
    run's start (or each stream's first event time): runs of the same seed with the same
    start share an id only where they put the same slot on the same millisecond, and other
    runs' ids are as unlikely to meet as random UUIDs. Both halves of the bijection fit a
    UUID beside its version 4 and RFC 4122 variant bits. ``one`` (Python ints, for
    ``event()``) and ``many`` (numpy, for the batch paths) compute the same function.
    """

    def __init__(self, seed: int, start_ms: int | None) -> None:
        self._seed, self._start_ms = seed, start_ms
        self._keys: dict[int, tuple[int, ...]] = {}
        self._next: dict[int, int] = {}

    def one(self, stream: int, event_ms: int) -> str:
        slot, keys = self._take(stream, 1, event_ms)
        left, right = _feistel_one(slot, event_ms, keys)
        high = (left >> 12) << 16 | 0x4000 | (left & 0xFFF)
        digits = f"{high:016x}{1 << 63 | right:016x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"

    def many(self, stream: int, event_ms: npt.NDArray[np.int64]) -> list[bytes]:
        """One id per event time, for the stream's next ``len(event_ms)`` positions."""
        if len(event_ms) == 0:
            return []
        first, keys = self._take(stream, len(event_ms), int(event_ms[0]))
        slots = np.arange(first, first + len(event_ms), dtype=np.uint64)
        left, right = _feistel(slots, event_ms.astype(np.uint64), tuple(map(np.uint64, keys)))
        words = np.empty((len(event_ms), 2), dtype=">u8")
        words[:, 0] = (left >> 12) << 16 | np.uint64(0x4000) | (left & np.uint64(0xFFF))
        words[:, 1] = right | np.uint64(1 << 63)
        digits = _hex(words.view(np.uint8))
        dash = b"-"
        return _strings(
            _join(
                digits[:, :8], dash, digits[:, 8:12], dash, digits[:, 12:16], dash,
                digits[:, 16:20], dash, digits[:, 20:],
            )
        )  # fmt: skip

    def _take(self, stream: int, n: int, first_ms: int) -> tuple[int, tuple[int, ...]]:
        """The stream's next ``n`` positions: the first one's slot, and the stream's keys."""
        keys = self._keys.get(stream)
        if keys is None:
            start = first_ms if self._start_ms is None else self._start_ms
            keys = self._keys[stream] = _round_keys(f"{self._seed}:{start}")
        position = self._next.get(stream, 0)
        self._next[stream] = position + n
        return stream << _POSITION_BITS | position, keys


def _round_keys(label: str) -> tuple[int, ...]:
    """Four 64-bit keys; blake2b, so that they do not depend on the process's hash seed."""
    raw = hashlib.blake2b(f"{label}:event-ids".encode(), digest_size=32).digest()
    return tuple(int.from_bytes(raw[i : i + 8], "little") for i in range(0, 32, 8))


def _feistel_one(slot: int, event_ms: int, keys: tuple[int, ...]) -> tuple[int, int]:
    left, right = slot, event_ms & _RIGHT_MASK
    for i in range(0, len(keys), 2):
        left ^= _mix_one(right ^ keys[i]) & _LEFT_MASK
        right ^= _mix_one(left ^ keys[i + 1]) & _RIGHT_MASK
    return left, right


def _mix_one(x: int) -> int:
    x = (x ^ x >> 33) * _MIX1 & _MASK64
    x = (x ^ x >> 33) * _MIX2 & _MASK64
    return x ^ x >> 33


U64Array = npt.NDArray[np.uint64]


def _feistel(
    slot: U64Array, event_ms: U64Array, keys: tuple[np.uint64, ...]
) -> tuple[U64Array, U64Array]:
    """``_feistel_one`` over arrays."""
    left, right = slot, event_ms & np.uint64(_RIGHT_MASK)
    for i in range(0, len(keys), 2):
        left = left ^ (_mix(right ^ keys[i]) & np.uint64(_LEFT_MASK))
        right = right ^ (_mix(left ^ keys[i + 1]) & np.uint64(_RIGHT_MASK))
    return left, right


def _mix(x: U64Array) -> U64Array:
    shift = np.uint64(33)
    x = (x ^ x >> shift) * np.uint64(_MIX1)
    x = (x ^ x >> shift) * np.uint64(_MIX2)
    return x ^ x >> shift


def _epoch_ms(at: datetime) -> int:
    """Epoch milliseconds of ``at``, as ``format_event_time`` truncates it."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- batch path: calibration as joint fragment tables ---------------------------------
@dataclass(frozen=True)
class _PaymentTables:
    channel_method_provider: _Fragments
    medians: FloatArray  # ticket of each channel_method_provider outcome, by its method
    sigmas: FloatArray
    status_merchant: _Fragments


@dataclass(frozen=True)
class _OrderTables:
    channel_platform: _Fragments
    product_payment: _AreaFragments
    status_order: _Fragments


@dataclass(frozen=True)
class _MobileMoneyTables:
    kinds: _AreaFragments  # by area: rural customers go to agents more
    providers: _Fragments
    provider_kind: ObjectArray  # fragment of provider p and kind k at p * len(kinds) + k
    medians: FloatArray  # by kind
    sigmas: FloatArray
    is_cash: npt.NDArray[np.bool_]  # by kind
    status: _Fragments
    app_or_ussd: ObjectArray  # channel fragment of a non-cash event, by "is USSD"
    ussd_rural: float
    ussd_urban: float


@cache
def _payment_tables() -> _PaymentTables:
    outcomes: dict[bytes, float] = {}
    medians, sigmas = [], []
    for method, p_method in _shares(cal.PAYMENT_METHODS).items():
        channels = _shares(cal.PAYMENT_CHANNELS[method])
        providers = _shares(cal.PAYMENT_PROVIDERS[_payment_family(method)])
        for (channel, p_channel), (provider, p_provider) in product(
            channels.items(), providers.items()
        ):
            fragment = _fields(channel=channel, method=method, provider=provider)
            outcomes[fragment] = p_method * p_channel * p_provider
            medians.append(cal.PAYMENT_TICKETS[method][0])
            sigmas.append(cal.PAYMENT_TICKETS[method][1])
    return _PaymentTables(
        _Fragments(outcomes),
        np.array(medians, dtype=np.float64),
        np.array(sigmas, dtype=np.float64),
        _joint(status=cal.STATUS_WEIGHTS, merchant_category=cal.MERCHANT_CATEGORIES),
    )


@cache
def _order_tables() -> _OrderTables:
    # A failed order is always cancelled; other outcomes draw the order status.
    status_order: dict[bytes, float] = {}
    statuses = _shares(cal.ORDER_STATUSES)
    for status, p_status in _shares(cal.STATUS_WEIGHTS).items():
        choices = {"cancelled": 1.0} if status == "failed" else statuses
        for order_status, p_order in choices.items():
            status_order[_fields(status=status, order_status=order_status)] = p_status * p_order
    return _OrderTables(
        _joint(channel=cal.ORDER_CHANNELS, platform=cal.PLATFORMS),
        _AreaFragments(
            {
                area: _joint(product_category=cal.PRODUCT_CATEGORIES, payment_method=w).outcomes
                for area, w in cal.ORDER_PAYMENTS_BY_AREA.items()
            }
        ),
        _Fragments(status_order),
    )


@cache
def _mobile_money_tables() -> _MobileMoneyTables:
    kinds = list(cal.MOBILE_MONEY_KINDS)
    provider_kind = [
        _fields(provider=p, kind=k) for p, k in product(cal.MOBILE_MONEY_PROVIDERS, kinds)
    ]
    return _MobileMoneyTables(
        kinds=_AreaFragments(
            {
                area: {k.encode(): w for k, w in weights.items()}
                for area, weights in cal.MOBILE_MONEY_KINDS_BY_AREA.items()
            }
        ),
        providers=_Fragments({p.encode(): w for p, w in cal.MOBILE_MONEY_PROVIDERS.items()}),
        provider_kind=np.array(provider_kind, dtype=object),
        medians=np.array([cal.MOBILE_MONEY_TICKETS[k][0] for k in kinds], dtype=np.float64),
        sigmas=np.array([cal.MOBILE_MONEY_TICKETS[k][1] for k in kinds], dtype=np.float64),
        is_cash=np.array([k in _CASH_KINDS for k in kinds]),
        status=_joint(status=cal.STATUS_WEIGHTS),
        app_or_ussd=np.array(
            [
                _fields(channel="mobile_app") + b',"agent_id":null',
                _fields(channel="ussd") + b',"agent_id":null',
            ],
            dtype=object,
        ),
        ussd_rural=cal.MOBILE_MONEY_USSD_SHARE["rural"],
        ussd_urban=cal.MOBILE_MONEY_USSD_SHARE["urban"],
    )


@cache
def _further_fields(etype: str) -> _Fragments | None:
    """cal.FIELD_WEIGHTS' fields of one type as one fragment draw (None: it has none)."""
    weights = cal.FIELD_WEIGHTS.get(etype)
    return _joint(**weights) if weights else None


def _joint(**fields: Mapping[str, float]) -> _Fragments:
    """Independent draws of several fields as one draw over their combinations."""
    names = list(fields)
    outcomes: dict[bytes, float] = {}
    for combo in product(*(_shares(w).items() for w in fields.values())):
        fragment = _fields(**{name: value for name, (value, _) in zip(names, combo, strict=True)})
        outcomes[fragment] = math.prod(p for _, p in combo)
    return _Fragments(outcomes)


def _fields(**values: str) -> bytes:
    return b",".join(b'"%b":"%b"' % (k.encode(), v.encode()) for k, v in values.items())


def _shares(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


# --- customers ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Geography:
    """Provinces in code order as arrays, for vectorised draws and lookups."""

    provinces: tuple[Province, ...]
    codes: ByteMatrix  # (P, 2) ASCII
    keys: ObjectArray  # code as bytes: the Kafka key
    agents: npt.NDArray[np.int64]


@cache
def _geography() -> _Geography:
    provs = ordered_provinces()
    agents = np.array([_agent_pool(p) for p in provs], dtype=np.int64)
    if agents.max() > 10**_AGENT_DIGITS:
        raise ValueError(f"agent pools above {10**_AGENT_DIGITS} do not fit the agent id")
    return _Geography(
        provinces=provs,
        codes=np.frombuffer(b"".join(p.code.encode() for p in provs), dtype=np.uint8).reshape(
            len(provs), 2
        ),
        keys=np.array([p.code.encode() for p in provs], dtype=object),
        agents=agents,
    )


@cache
def _customer_draws(event_type: str) -> tuple[FloatArray, FloatArray]:
    """The type's cumulative province weights and P(urban | province), in code order."""
    geo: TypeGeography = type_geography(event_type)
    return _cumulative(geo.weights), geo.urban


class _CustomerTable:
    """All customers of one event type, as arrays by index, derived a block at a time.

    Block ``b`` is drawn from its own stream, seeded by (seed, event type, b), so a customer
    depends on nothing but the seed, the type and its index.
    """

    def __init__(self, seed: int, event_type: str) -> None:
        pool = cal.CUSTOMER_POOL[event_type]
        self._seed, self._event_type = seed, event_type
        self._built = np.zeros(-(-pool // _CUSTOMER_BLOCK), dtype=bool)
        self.province: IntArray = np.zeros(pool, dtype=np.intp)  # into _geography()
        self.rural = np.zeros(pool, dtype=bool)
        self.ids = np.zeros(pool, dtype="S17")
        # '"province_code":..,"area":..,"customer_id":..' for the batch path's template
        self.fragments: ObjectArray = np.empty(pool, dtype=object)

    def customer(self, index: int) -> Customer:
        if not 0 <= index < len(self.province):
            raise IndexError(f"no {self._event_type} customer {index}")
        block = index // _CUSTOMER_BLOCK
        if not self._built[block]:
            self._build(block)
        area = "rural" if self.rural[index] else "urban"
        province = _geography().provinces[self.province[index]]
        return Customer(self.ids[index].decode(), province, area)

    def ensure(self, index: IntArray) -> None:
        """Derive the blocks holding these indices, if not done yet."""
        blocks = index // _CUSTOMER_BLOCK
        for block in np.unique(blocks[~self._built[blocks]]).tolist():
            self._build(block)

    def _build(self, block: int) -> None:
        geo = _geography()
        start = block * _CUSTOMER_BLOCK
        stop = min(start + _CUSTOMER_BLOCK, len(self.province))
        n = stop - start
        # Raw PCG64 output, whose stream numpy keeps stable across versions (Generator
        # methods may change theirs): customers must not change with a numpy upgrade.
        bits = _derived_bits(f"{self._seed}:{self._event_type}:customers:{block}")
        raw = np.asarray(bits.random_raw(3 * n), dtype=np.uint64).reshape(3, n)
        u_area, u_place = _unit(raw[0]), _unit(raw[1])
        # The province by the type's weights, then the area by its urban probability there
        # (producers/geography.py: the e-business index, Mobile Money's rural share).
        cumulative, urban = _customer_draws(self._event_type)
        province = _pick(cumulative, u_place)
        rural = u_area >= urban[province]
        prefix = _ID_PREFIX[self._event_type].encode()
        ids = _join(prefix, _hex(raw[2].astype(">u8").view(np.uint8).reshape(n, 8)))
        area = np.where(rural[:, None], _ascii(b"rural"), _ascii(b"urban"))
        fragment = _join(
            b'"province_code":"', geo.codes[province], b'","area":"', area,
            b'","customer_id":"', ids, b'"',
        )  # fmt: skip
        self.province[start:stop] = province
        self.rural[start:stop] = rural
        self.ids[start:stop] = ids.view(f"S{ids.shape[1]}").ravel()
        self.fragments[start:stop] = _strings(fragment)
        self._built[block] = True


# --- helpers --------------------------------------------------------------------------
def _payment_family(method: str) -> str:
    return "ewallet" if method == "ewallet" else "card" if method == "card" else "bank"


def _agent_pool(province: Province) -> int:
    return max(5, province.population * cal.AGENTS_PER_100K_PEOPLE // 100_000)


def _derived_bits(label: str) -> np.random.PCG64:
    # blake2b, not hash(): the stream must not depend on the process's hash seed.
    digest = hashlib.blake2b(label.encode(), digest_size=16).digest()
    return np.random.PCG64(int.from_bytes(digest, "little"))


def _derived_rng(label: str) -> np.random.Generator:
    return np.random.Generator(_derived_bits(label))


def _unit(raw: npt.NDArray[np.uint64]) -> FloatArray:
    """Uniform floats in [0, 1) from 64 random bits each (53 used, as numpy's random())."""
    return (raw >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


def _cumulative(weights: FloatArray) -> FloatArray:
    cum = np.cumsum(weights)
    return np.asarray(cum / cum[-1], dtype=np.float64)


def _pick(cumulative: FloatArray, u: FloatArray) -> IntArray:
    """Index drawn by uniforms ``u`` from normalised cumulative weights (as ``bisect``)."""
    found = np.searchsorted(cumulative, u, side="right")
    return np.minimum(found, len(cumulative) - 1).astype(np.intp)  # rounding at the top


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(raw: ByteMatrix) -> ByteMatrix:
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX_DIGITS[raw >> 4]
    out[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return out


def _digits(values: IntArray, width: int = _AGENT_DIGITS) -> ByteMatrix:
    """Non-negative integers as zero-padded ASCII digits, ``width`` columns."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def _ascii(text: bytes) -> ByteMatrix:
    return np.frombuffer(text, dtype=np.uint8).reshape(1, len(text))


def _join(*parts: bytes | ByteMatrix) -> ByteMatrix:
    """Fixed-width strings side by side: (n, w) matrices and constants repeated on every row."""
    rows = max(p.shape[0] for p in parts if isinstance(p, np.ndarray))
    matrices = [
        np.broadcast_to(_ascii(p), (rows, len(p))) if isinstance(p, bytes) else p for p in parts
    ]
    return np.concatenate(matrices, axis=1)


def _strings(matrix: ByteMatrix) -> list[bytes]:
    strings: list[bytes] = np.ascontiguousarray(matrix).view(f"S{matrix.shape[1]}").ravel().tolist()
    return strings
