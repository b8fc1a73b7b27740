"""`python -m tokenprobe` runs the command line."""

from tokenprobe.cli import main

main()
