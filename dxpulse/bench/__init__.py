"""`dxpulse bench`: our worker against reference consumers doing the same job."""
