"""Canonical case-event models, field groups and their exported JSON Schemas."""
