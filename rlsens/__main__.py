import sys

from rlsens.cli import main

sys.exit(main())
