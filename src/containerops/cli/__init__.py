"""The `coops` command line."""
