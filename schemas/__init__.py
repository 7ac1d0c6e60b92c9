"""Event schemas, reference data and validation shared by producers and stream workers."""
