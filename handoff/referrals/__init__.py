"""Referrals to municipalities, Kunskapshus and organisations, and the municipality portal."""
