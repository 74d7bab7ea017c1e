"""engine.methods.mix."""
