"""`python -m cnncli` runs the `cnn` command."""
from cnncli.cli.main import main

main()
