"""`dxpulse report`: key dashboard panels as one static, self-contained HTML page.

The page runs the very SQL of the Grafana panels (taken from the dashboards built in
dashboards/, macros expanded as Grafana would), so the report and the dashboards cannot
disagree. ``selection`` says which panels, ``timerange`` which range and interval,
``queries`` expands and runs their SQL, ``charts`` draws a result with matplotlib (Agg, no
display), ``html`` writes the page and ``compose`` ties them together.
"""
