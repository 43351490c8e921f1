"""JupyterHub: `serve` as the hub's one model manager (`service`), and user servers that use it (`forward`)."""
