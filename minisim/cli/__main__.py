import sys

from minisim.cli import main

if __name__ == "__main__":  # guard: distributed worker processes re-import the main module
    sys.exit(main())
