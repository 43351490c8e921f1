"""The kernel side: the `%ollama` magics (a server is found by `discovery`)."""
