"""The one error type that user-facing failures raise."""


class FCNError(Exception):
    """Bad input from the user: a file, a net, a shape, an option.

    The command line prints the message as one line and exits 2; anything
    else that escapes is a bug in this project and keeps its traceback.
    """
