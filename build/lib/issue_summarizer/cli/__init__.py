"""The command line, on top: one module per command, each adding its parser and running it.
`__main__` only dispatches (see `cli/main.py`)."""
