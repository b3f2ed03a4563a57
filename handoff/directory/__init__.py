"""The directory of recipients and its admin page (see :mod:`handoff.directory.loading`)."""
