"""The model manager: which models are loaded, into which runner, for how long."""
