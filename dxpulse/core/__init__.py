"""The base layer: what every other part of dxpulse may import, and which imports none of them.

Settings (``config``), the one-line errors (``errors``), the SQL splitter (``sqlsplit``),
the duration parser (``durations``) and the checkout finder (``source_tree``). The
components (``dxpulse.schemas``, ``producers``, ``streams``, ``dashboards``) and the
application above them build on these; the layer rule is in pyproject.toml's
``[tool.importlinter]`` and docs/architecture.md ("Layers").
"""
