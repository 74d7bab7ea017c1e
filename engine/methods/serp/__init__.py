"""engine.methods.serp."""
