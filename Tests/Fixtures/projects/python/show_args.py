"""Prints the arguments it was given, one per line, to show how the runner quoted them."""
import sys

for arg in sys.argv[1:]:
    print(f"arg: {arg!r}")
