"""How a net runs: one options object, passed in (to Net, Solver and every
layer), never read from module globals.

The command line and `compat` build it; environment variables are only its
documented defaults:

- FCN_THREADS: workers (default: the cores this process may use);
- FCN_CONV=im2col: every convolution on im2col + GEMM, Caffe's order of
  arithmetic (default: the fastest algorithm for each layer).

A Convolution's own `engine: CAFFE` asks for im2col + GEMM whatever the
options say, as Caffe's layer factory honours it; DEFAULT (and CUDNN, which
has no meaning here) takes the options' choice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from backends.cpu.threads import Workers
from common.errors import FCNError

ALGORITHMS = ("fastest", "im2col")


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Options:
    threads: int = field(default_factory=_cores)
    # "fastest" (Winograd for 3x3 stride-1, GEMM for 1x1, else im2col + GEMM)
    # or "im2col" (im2col + GEMM everywhere: Caffe's order of arithmetic).
    convolution: str = "fastest"
    # Floats of one im2col band (8 MB; up to 4x for layers with many weights).
    col_budget: int = 1 << 21
    # Floats of one band of Winograd tiles, input and output transforms (32 MB).
    tile_budget: int = 1 << 23
    # A 3x3 layer whose output has fewer 2x2 tiles per image (half as many
    # for a batch, which shares the kernels' transform) runs on im2col + GEMM
    # (64: a lone image's maps under 16x16; a batch's under 11x11).
    winograd_least_tiles: int = 64
    # Floats of the temporary product of a blocked weight-gradient GEMM (16 MB).
    product_budget: int = 1 << 22
    # False: refuse every Python layer module but the release's data modules.
    trust_python_layers: bool = True
    # Seeds the net's random generator (fillers, Dropout, shuffles); None: fresh entropy.
    seed: int | None = None
    # (rank, ranks): data layers take batches rank, rank + ranks, ... of the
    # one-process sequence (data-parallel training and scoring, solvers/distributed.py).
    shard: tuple[int, int] = (0, 1)

    def __post_init__(self):
        if self.convolution not in ALGORITHMS:
            raise FCNError(f"convolution algorithm {self.convolution!r}: use one of {', '.join(ALGORITHMS)}")
        if self.threads < 1:
            raise FCNError(f"threads must be at least 1, not {self.threads}")

    @classmethod
    def from_environment(cls, **overrides) -> Options:
        """The defaults, with FCN_THREADS and FCN_CONV where set, then `overrides`."""
        values: dict[str, Any] = {}
        if os.environ.get("FCN_THREADS"):
            try:
                values["threads"] = int(os.environ["FCN_THREADS"])
            except ValueError:
                raise FCNError(f"FCN_THREADS={os.environ['FCN_THREADS']!r} is not a number") from None
        if os.environ.get("FCN_CONV") == "im2col":
            values["convolution"] = "im2col"
        values.update(overrides)
        return cls(**values)

    def but(self, **changes) -> Options:
        """A copy with `changes`."""
        return replace(self, **changes)

    @property
    def workers(self) -> Workers:
        return Workers.of(self.threads)

    def make_rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)
