"""Moved to letters.printing.letter: this name stays until supporter/views.py imports it there."""

from letters.printing.letter import default_renderer

__all__ = ["default_renderer"]
