import sys

from mechlearn.cli import main

sys.exit(main())
