"""Personal data: citizen ID numbers masked for display and kept out of logs."""
