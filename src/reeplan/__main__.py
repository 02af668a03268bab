"""``python -m reeplan`` runs the command line."""

from reeplan.interfaces.cli import main

main()
