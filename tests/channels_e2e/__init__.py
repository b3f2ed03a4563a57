"""Whole-system suite (not one module's tests): each channel end to end through the real gateway,
in one process or in two (tests/README.md); the channels' own tests are in tests/bots/<channel>."""
