import sys

from fastdns.cli.server import main

sys.exit(main())
