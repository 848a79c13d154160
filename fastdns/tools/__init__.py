"""What the command-line tools are made of (``fastdns-util``, its ``zone2sql``); L7, beside cli."""
