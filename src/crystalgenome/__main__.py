"""``python -m crystalgenome`` runs the command-line interface."""

from crystalgenome.cli.app import main

main()
