"""Where minigan keeps what it computes once and reuses (trained classifiers, FID statistics)."""
import os


def cache_dir():
    """Where trained classifiers are kept: ``$MINIGAN_CACHE``, else ``$XDG_CACHE_HOME/minigan``,
    else ``~/.cache/minigan``."""
    if os.environ.get("MINIGAN_CACHE"):
        return os.environ["MINIGAN_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "minigan")
