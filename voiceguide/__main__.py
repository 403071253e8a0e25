"""python -m voiceguide: the command line (guarded: worker processes import it)."""

from voiceguide.cli.main import main

if __name__ == "__main__":
    main()
