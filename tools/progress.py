"""A one-line progress bar, redrawn in place on a terminal, silent elsewhere."""
import sys


def progress_bar(stream=sys.stderr, label=""):
    """draw(done, total) for a terminal; None when `stream` is not one."""
    if not stream.isatty():
        return None
    prefix = f"{label} " if label else ""

    def draw(done, total):
        filled = int(30 * done / max(total, 1))
        stream.write(f"\r{prefix}[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return draw


def progress(items, label=""):
    """Iterate over `items`, drawing the bar after each."""
    items = list(items)
    draw = progress_bar(sys.stderr, label)
    for done, item in enumerate(items, 1):
        yield item
        if draw:
            draw(done, len(items))
