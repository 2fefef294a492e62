"""The probation adapter: HMPPS-style domain events to case events."""
