"""Triage: language, intent, priority and safe response for every incoming message."""
