"""Handoffs: the directory of recipients, routing, signed webhooks, redaction and documentation guidelines."""
