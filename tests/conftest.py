import os

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data")
PUBLISHED = os.path.join(DATA, "published")
REFERENCE = os.path.join(DATA, "reference")


@pytest.fixture
def data_dir():
    return DATA
