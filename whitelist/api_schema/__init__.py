"""OpenAPI of the whitelist API, kept out of the views: one schema decorator a view, one module an entity."""
