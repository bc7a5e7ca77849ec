"""The `fcn` command-line tools."""
