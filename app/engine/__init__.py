"""The servicing engine: pure rules, no database (servicing-rules.md)."""
