"""Generated from protos/deskpilot/v1 by `make protos`; do not edit."""
