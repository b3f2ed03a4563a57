"""Whole-system suite (not one module's tests): two real gateway processes sharing one PostgreSQL
and one Redis (tests/README.md)."""
