"""Telling people and systems how a run went: Slack, signed webhooks, email, GitHub commit statuses.

One module per kind of receiver, each a plain ``send`` function; ``dispatch``
listens to the server's run events, picks the receivers a run's flow names
(``receivers:``, each with ``on: [success, failure, always]``), retries with
backoff, records every attempt in ``notifications``, and never changes a run.
"""
