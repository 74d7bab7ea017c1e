"""Method implementations, one sub-package per family. engine.catalog imports them."""
