"""`python -m cardreader` is `evac-reader`."""

from cardreader.cli import main

if __name__ == "__main__":
    main()
