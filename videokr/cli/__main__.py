"""`python -m videokr.cli`: the same command as the `videokr` console script."""
from videokr.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
