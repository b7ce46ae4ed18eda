import os
import sys


def add(a, b):
    return a + b + missing
