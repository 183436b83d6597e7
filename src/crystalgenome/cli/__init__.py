"""Command-line interface: a thin layer over the stages. Nothing imports this package."""
