"""The `dxpulse` commands, one module per command group (dxpulse/cli.py gathers them)."""
