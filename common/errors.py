"""The one error type that user-facing failures raise."""


class FCNError(Exception):
    """Bad input from the user: a file, a net, a shape, an option.

    The command line prints the message as one line and exits 2; anything
    else that escapes is a bug in this project and keeps its traceback.
    """


def open_input(path, what, mode="rb", **options):
    """open(path, mode) for reading a `what` (a prototxt, a caffemodel),
    with the usual failures as one-line errors."""
    try:
        return open(path, mode, **options)
    except FileNotFoundError:
        raise FCNError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FCNError(f"{path}: is a directory, not a {what}") from None
    except OSError as err:
        raise FCNError(f"{path}: cannot read ({err.strerror or err})") from None
