"""engine.methods.pointmask."""
