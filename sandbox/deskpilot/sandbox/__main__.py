"""`python -m deskpilot.sandbox`: start one session's sandbox desktop (see start.py)."""

from deskpilot.sandbox.start import main

if __name__ == "__main__":
    main()
