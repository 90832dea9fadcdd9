"""Celery tasks (sending email letters, batch printing); see ARCHITECTURE.md."""
