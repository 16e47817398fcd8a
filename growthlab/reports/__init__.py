"""The performance report: an HTML page with plots, written from the marts (`growthlab report`)."""
