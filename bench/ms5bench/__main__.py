"""python3 -m ms5bench --help"""

import sys

from .cli import main

sys.exit(main())
