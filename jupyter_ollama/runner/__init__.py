"""The runner program: one subprocess per loaded model, with its engine, sampling and prompt templates.

Started by `runners/process.py` as `python -m jupyter_ollama.runner`; it speaks the contract in `runners/`
and imports only that and lower layers. Nothing imports it: it is a leaf, a program of its own.
"""
