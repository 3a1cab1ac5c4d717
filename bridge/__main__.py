"""``python -m bridge`` runs the CLI."""

from bridge.cli import main

main()
