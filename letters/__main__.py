"""`python -m letters ...` is the same as the `letters` console script."""

from letters.cli import main

main()
