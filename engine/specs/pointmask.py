"""pointmask specs (being moved here from the implementations)."""
SPECS = ()
