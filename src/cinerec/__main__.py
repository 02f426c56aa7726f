import sys

from cinerec.cli import main

sys.exit(main())
