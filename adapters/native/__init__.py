"""Helpers the translators share: reading native fields by path, and common codecs."""
