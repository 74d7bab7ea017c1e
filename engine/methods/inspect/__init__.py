"""engine.methods.inspect.predict."""
