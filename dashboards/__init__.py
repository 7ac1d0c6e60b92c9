"""Grafana dashboards, alert rules and provisioning for dxpulse, as code."""
