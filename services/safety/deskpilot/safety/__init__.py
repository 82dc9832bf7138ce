"""Deskpilot safety gate: action policy, injection scanning, fail-closed client."""
