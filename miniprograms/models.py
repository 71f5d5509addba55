"""Models of the miniprograms app."""
