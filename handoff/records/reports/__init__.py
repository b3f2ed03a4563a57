"""Reports and the situational picture (``helpline report``, ``/console/api/reports``)."""
