"""One class per layer type; see `registry.LAYER_TYPES`."""
