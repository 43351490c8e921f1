"""The kernel side: finding a server, the embedded server, and the `%ollama` magics."""
