"""mix specs (being moved here from the implementations)."""
SPECS = ()
