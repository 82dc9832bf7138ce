"""Deskpilot orchestrator: sessions, the agent loop, sandbox providers."""
