"""engine.methods.flowam.method."""
