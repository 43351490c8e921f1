"""Ollama's Modelfile grammar and its options, shared by the store (create, show) and the clients.

`parser`: the Modelfile itself (Ollama's parser/parser.go), the CLI's create request and
`ollama show --modelfile`; `options`: parameter names and types (api/types.go), typed from a
Modelfile's `PARAMETER` lines or a request's JSON `options`. Neither reads the store.
"""
