"""Builders of the demo models, so a fresh clone can serve something real."""
