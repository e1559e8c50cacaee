"""The layers of ``nn``, one family per file."""
