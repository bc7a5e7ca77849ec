"""The FCN release's Python 2 helper modules (score.py, surgery.py, vis.py),
with the same functions and printed output, for `fcn run` to use where
the release's own files are Python 2 (see tools/run.py)."""
