from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .support import EbayKeyServer


@pytest.fixture(scope="session")
def ebay_private_key() -> ec.EllipticCurvePrivateKey:
    # eBay's keys are P-256.
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ebay_key_server() -> Iterator[EbayKeyServer]:
    server = EbayKeyServer()
    server.start()
    yield server
    server.stop()
