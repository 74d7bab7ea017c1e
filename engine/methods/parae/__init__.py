"""engine.methods.parae."""
