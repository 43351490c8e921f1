"""The runner: one subprocess per loaded model, with its engine, sampling and prompt templates."""
