"""The admins' triage tuning at ``/console/triage``: datasets, models, responses, corrections."""
