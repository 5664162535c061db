"""Arrears and defaults: delinquency as of any date, the bank's default reports,
the center's default and publication lists, credit reporting, repayment
performance, monitoring and loan forgiveness (代偿)."""
