__version__ = "0.1.0"

# What /api/version reports. Clients gate features on Ollama's version, so we
# report the last Ollama release whose API we serve in full, not our own package
# version: 0.14.2 has /v1/messages (0.14.0), /v1/responses (0.13.3) and logprobs
# (0.12.11); 0.14.3 added image generation on /api/generate, which we do not serve.
OLLAMA_API_VERSION = "0.14.2"
