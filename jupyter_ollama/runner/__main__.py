import asyncio
import json
import sys

from ..errors import OllamaError

try:
    from .server import main

    asyncio.run(main())
except OllamaError as err:
    # Reported to the manager on stdout, where it waits for the port.
    print(json.dumps({"error": err.message}), flush=True)
    sys.exit(1)
