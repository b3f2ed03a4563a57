"""Disclosures of crime information to the Police or the Security Service (four-eyes check)."""
