"""The case-event hub: decides, records and discloses multi-agency case events."""
