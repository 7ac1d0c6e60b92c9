"""Export the event models as JSON Schema files, for producers written in other languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from dxpulse.schemas.events import MODELS, SCHEMA_DESCRIPTION
from dxpulse.schemas.provinces import province_codes

JSON_DIR = Path(__file__).parent / "json"


def json_schema(event_type: str) -> dict[str, Any]:
    schema = MODELS[event_type].model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://dxpulse.dev/schemas/{event_type}.schema.json"
    # What holds beyond the keywords: see docs/data-model.md, "Rules the schemas cannot express".
    schema["description"] = SCHEMA_DESCRIPTION.format(event_type=event_type)
    # The province rule lives in a validator; spell it out for non-Python producers.
    schema["properties"]["province_code"]["enum"] = sorted(province_codes())
    return schema


def render(event_type: str) -> bytes:
    return orjson.dumps(json_schema(event_type), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def export(directory: Path = JSON_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type in MODELS:
        path = directory / f"{event_type}.schema.json"
        path.write_bytes(render(event_type) + b"\n")
        written.append(path)
    return written
