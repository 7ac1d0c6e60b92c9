"""The string cases of the official JSON-Schema-Test-Suite for the events' two formats.

From tests/draft2020-12/optional/format/date-time.json and uuid.json of
json-schema-org/JSON-Schema-Test-Suite, with the suite's verdicts: what "format is an
assertion" means for ``date-time`` and ``uuid``. Both the worker's parsers
(schemas/formats.py) and the contract tests' reference checkers are held to them.
"""

from __future__ import annotations

SUITE_DATE_TIMES = {
    "1963-06-19T08:30:06.283185Z": True,
    "1963-06-19T08:30:06Z": True,
    "1937-01-01T12:00:27.87+00:20": True,
    "1990-12-31T15:59:50.123-08:00": True,
    "1998-12-31T23:59:60Z": True,
    "1998-12-31T15:59:60.123-08:00": True,
    "1998-12-31T23:59:61Z": False,
    "1998-12-31T23:58:60Z": False,
    "1998-12-31T22:59:60Z": False,
    "1990-02-31T15:59:59.123-08:00": False,
    "1990-12-31T15:59:59-24:00": False,
    "1963-06-19T08:30:06.28123+01:00Z": False,
    "1990-12-31T24:00:00Z": False,
    "1990-12-31T15:60:00Z": False,
    "1990-12-31T10:00:00+10:60": False,
    "06/19/1963 08:30:06 PST": False,
    "1963-06-19t08:30:06.283185z": True,
    "2013-350T01:01:01": False,
    "1963-6-19T08:30:06.283185Z": False,
    "1963-06-1T08:30:06.283185Z": False,
    "1963-06-1\u09eaT00:00:00Z": False,
    "1963-06-11T0\u09ea:00:00Z": False,
    "+11963-06-19T08:30:06.283185Z": False,
    "1985-04-12T00:59:59.999999999999999Z": True,
}
SUITE_UUIDS = {
    "2EB8AA08-AA98-11EA-B4AA-73B441D16380": True,
    "2eb8aa08-aa98-11ea-b4aa-73b441d16380": True,
    "2eb8aa08-AA98-11ea-B4Aa-73B441D16380": True,
    "00000000-0000-0000-0000-000000000000": True,
    "2eb8aa08-aa98-11ea-b4aa-73b441d1638": False,
    "2eb8aa08-aa98-11ea-73b441d16380": False,
    "2eb8aa08-aa98-11ea-b4ga-73b441d16380": False,
    "2eb8aa08aa9811eab4aa73b441d16380": False,
    "2eb8aa08aa98-11ea-b4aa73b441d16380": False,
    "2eb8-aa08-aa98-11ea-b4aa73b44-1d16380": False,
    "2eb8aa08aa9811eab4aa73b441d16380----": False,
    "2eb8aa0-8aa98-11e-ab4aa7-3b441d16380": False,
    "98d80576-482e-427f-8434-7f86890ab222": True,
    "99c17cbb-656f-564a-940f-1a4568f03487": True,
    "99c17cbb-656f-664a-940f-1a4568f03487": True,
    "99c17cbb-656f-f64a-940f-1a4568f03487": True,
    "urn:uuid:2eb8aa08-aa98-11ea-b4aa-73b441d16380": False,
}


