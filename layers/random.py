"""The engine's random generator, seeded by a solver's random_seed."""
import numpy as np

_state = {"rng": np.random.default_rng()}


def rng():
    return _state["rng"]


def set_seed(seed):
    _state["rng"] = np.random.default_rng(seed)
