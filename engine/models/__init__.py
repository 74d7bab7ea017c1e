"""Models: networks and checkpoint loading. ``engine.models.zoo`` imports every architecture."""
