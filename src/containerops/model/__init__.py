"""Flows: the validated model, and the loader/validator that builds it."""
