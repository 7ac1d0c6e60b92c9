"""Grafana over its HTTP API: pushing dxpulse's dashboards bundle (push), comparing (diff)."""
