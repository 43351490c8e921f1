"""What the manager knows of a runner: the `Runner` contract and its shapes (`protocol.py`), and the client of
the local llama.cpp subprocess (`process.py`). The subprocess itself, `runner/`, is a program of its own that
imports this contract; the manager never imports it."""
