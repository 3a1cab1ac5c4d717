"""``python -m bridge`` runs the CLI."""

from bridge.interfaces.cli.main import main

main()
