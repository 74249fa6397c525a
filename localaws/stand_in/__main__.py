"""Serves the local AWS stand-in (see the package docstring):

    PYTHONPATH=localaws .venv/bin/python -m stand_in [--host 127.0.0.1] [--port 4599]

localaws/localaws.sh start runs it so, in the background, on the port $LOCALAWS_PORT names.
"""

import argparse
import os

from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import run_simple

from . import __doc__ as overview
from .app import create_app


def main():
    parser = argparse.ArgumentParser(prog="python -m stand_in",
                                     description=overview.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4599)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto calls itself on this port
    run_simple(args.host, args.port, create_app(), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
