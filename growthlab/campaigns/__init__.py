"""Email campaigns: definitions, content, sequences, outbox, sender, suppression (docs/architecture.md)."""
