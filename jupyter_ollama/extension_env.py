"""The environment variables through which the server extension tells kernels where it is."""

URL_ENV = "JUPYTER_OLLAMA_URL"
TOKEN_ENV = "JUPYTER_OLLAMA_TOKEN"
