__version__ = "0.1.0"

# What /api/version reports. Clients gate features on Ollama's version, so we
# report the Ollama release whose API we follow, not our own package version.
OLLAMA_API_VERSION = "0.33.0"
