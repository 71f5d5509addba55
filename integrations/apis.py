"""REST API of webhook endpoints and their deliveries."""
