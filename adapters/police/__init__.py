"""The police adapter: POLE documents (persons, objects, locations, events) to case events."""
