"""The shell executor: one persistent bash and a text editor for one sandbox session."""
