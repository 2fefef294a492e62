"""The advocacy adapter: the advocate's case-record exports in, case events out."""
