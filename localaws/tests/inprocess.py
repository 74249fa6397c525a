"""For tests that run moto in-process: clients must not follow an endpoint the environment points
at (./dev test exports the local AWS's, which the self-test then uses)."""

import os
from unittest import mock


def without_endpoints():
    """Removes AWS_ENDPOINT_URL(_*) until the returned patch is stopped."""
    patch = mock.patch.dict(os.environ)
    patch.start()
    for name in [n for n in os.environ if n == "AWS_ENDPOINT_URL" or n.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]
    return patch
