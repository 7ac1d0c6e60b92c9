"""`dxpulse calibrate`: what is in ClickHouse against the national figures the generator follows.

The targets are data (``schemas/reference/calibration_targets.yaml``, loaded and validated by
:mod:`.targets`); a few are implied by the generator's own parameters (:mod:`.implied`). The
measurements are SQL on ``{db}.events`` (:mod:`.measure`, queries under ``sql/``), compared
by pure logic (:mod:`.compare`) and shown as a table or JSON (:mod:`.render`).
"""
