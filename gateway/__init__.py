"""helpline-gateway core: application, configuration, envelope, store, broker and pipeline."""

__version__ = "0.1.0"
