"""Moving models between registries and the store: pull and push (Ollama's registry protocol: resumable ranged
downloads, uploads, token auth) and Hugging Face GGUF repositories. Above `store/`, which knows nothing of them."""
