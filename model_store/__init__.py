"""model_store."""
