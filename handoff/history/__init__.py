"""The person's history and the supervisors' reading: the Person panel (earlier conversations of a
returning person, and unlinking them on request), search, the audit page, and care for counsellors
after a critical conversation.  ``web`` holds the routes, the other modules the rules and SQL."""
