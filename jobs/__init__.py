"""Scheduled jobs (scheduler, runner, entry points) live here."""
