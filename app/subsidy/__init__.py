"""Interest subsidy claims (贴息): statements to finance, approval, payment."""
