"""Stored loans: their events, the engine run over them, the ledger they post."""
