"""Whole-system suite (not one module's tests): the real gateway on a free port, the console and the
web chat driven in headless Chromium (tests/README.md)."""
