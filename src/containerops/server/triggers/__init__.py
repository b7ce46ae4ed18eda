"""What starts a flow on the server besides a person: webhooks and schedules.

``receive`` turns one webhook request (GitHub, GitLab, any sender with a token)
into a verdict and, when it is accepted, a queued run; ``deliveries`` records
every request, whatever came of it; ``cron`` runs flows on their schedules.
"""
