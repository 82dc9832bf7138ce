"""Where a session's desktop comes from, and how the orchestrator talks to it."""
