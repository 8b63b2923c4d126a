"""The one HTTP server: health, metrics, the deal webhook and every adapter's callback routes."""
