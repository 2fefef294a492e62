"""The evaluator's side: minimised evaluation records in, released figures out."""
