"""Text preparation for speech: sentence splitting and spoken-form normalisation."""
