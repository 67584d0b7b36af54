import sys

if len(sys.argv) > 1:
    from webapp.cli import main as cli

    raise SystemExit(cli(sys.argv[1:]))

from webapp.main import main

main()
