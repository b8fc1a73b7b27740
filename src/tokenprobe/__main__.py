"""`python -m tokenprobe` runs the command line."""

from tokenprobe.cli import main

# Guarded: a worker process started by multiprocessing imports this module again.
if __name__ == "__main__":
    main()
