"""A module with nothing to say about it."""


def add(a, b):
    return a + b
