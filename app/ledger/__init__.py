"""Double-entry ledger: accounts, immutable balanced journal entries."""
