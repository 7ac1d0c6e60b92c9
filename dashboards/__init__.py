"""Grafana for dxpulse, in one package: dashboards, alert rules and provisioning as code
(build, bundle, the panels), and putting them into a running Grafana (push, diff)."""
