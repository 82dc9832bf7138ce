"""The `deskpilot` command."""
