import sys

from onecode_cli.main import main

sys.exit(main())
