"""Deskpilot shared service library."""
