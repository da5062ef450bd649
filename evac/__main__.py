"""`python -m evac` runs the same click group as the `evac` command."""

from evac.cli import main

if __name__ == "__main__":
    main()
