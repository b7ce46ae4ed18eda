"""The HTTP routes of the server core: flows, runs, logs, and the original pilotage routes."""
