import sys

import pytest

from tools.run import compat_folder


@pytest.fixture(scope="session")
def caffe():
    """pycaffe's `caffe` package, as `fcn run` serves it."""
    if compat_folder() not in sys.path:
        sys.path.insert(0, compat_folder())
    import caffe as package
    return package
