"""Prompt templates, in one place: what renders a model's prompts and what that implies.

- `go`: a Modelfile TEMPLATE (Go text/template, through `gotemplate/`) rendered as Ollama does;
- `jinja`: the GGUF's own chat template, in a sandbox;
- `tags`: which tag opens a tool call, read from either kind of template;
- `capabilities`: what a model can do, from its GGUF and its template;
- `profile`: all of that for one model, computed once per manifest digest.

Rendering happens in the runner (it has the tokenizer's BOS/EOS); the manager uses profiles.
"""
