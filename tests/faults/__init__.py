"""Whole-system suite (not one module's tests): fault injection into two real ``helpline serve``
processes on a private PostgreSQL and Redis under load (tests/README.md)."""
