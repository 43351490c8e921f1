__version__ = "0.1.0"

# What /api/version reports. Clients gate features on Ollama's version (Codex takes the Responses
# API from 0.13.4 on), so we report the Ollama release whose API this server implements, not our
# own package version. 0.32.6 is the first release without image generation on /api/generate,
# which is not served here; its request fields (think levels, logprobs, shift, truncate), the
# OpenAI, Responses and Messages routes are all served. Left out, as they are ollama.com's
# account and cloud features: /api/me, /api/signout, /api/experimental/web_search and
# web_fetch; also /v1/audio/transcriptions.
OLLAMA_API_VERSION = "0.32.6"
