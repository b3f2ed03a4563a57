"""Records: documentation of closed conversations, redaction, retention and erasure, reports."""
