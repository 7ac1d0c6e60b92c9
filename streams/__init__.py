"""The stream worker: validate, dead-letter, aggregate in windows, sink to ClickHouse."""
