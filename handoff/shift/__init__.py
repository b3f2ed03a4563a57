"""The counsellor's shift: status (available, break, away), "take the next one" and reminders of
conversations that wait longer than their priority's target.

* :mod:`.models`: ``staff_presence`` (each staff member's status and last console activity) and
  ``wait_reminders`` (when a waiting conversation was last reminded of, for one reminder per fleet);
* :mod:`.options`: ``console.queue_mode``, ``console.wait_targets`` and the other settings, read once;
* :mod:`.presence`: status changes (audited, published on the ``queue`` fan-out), console activity,
  the automatic away, who is on duty;
* :mod:`.reminders`: the periodic check of the queue against the wait targets;
* :mod:`.strings`: the words (sv, en), merged into the console's catalogue;
* :mod:`.web`: the routes (status, next conversation) and the periodic task.
"""
