"""``python -m automix``: the command line, as the ``automix`` script."""
from automix.cli import run

run()
