"""Synthetic, calibrated event generation and the Kafka producer that sends it."""
