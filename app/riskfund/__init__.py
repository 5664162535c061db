"""The risk-compensation fund (风险补偿专项资金): per agreement and year, shared by payers."""
