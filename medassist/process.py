"""What a long-lived process does once it has loaded what it serves."""

from __future__ import annotations

import gc


def startup_objects_freeze() -> None:
    """Keep the objects loaded at start (Django, the apps, pydicom's dictionaries, the models
    a web process serves) out of the cyclic garbage collector's full passes.

    A full pass looks at every tracked object the process holds: with all of them in sight,
    one request in twenty paid 80-100 ms for it (QIDO-RS instances of a day: p50 16 ms, max
    110 ms; with them frozen, max 22 ms). Objects made afterwards (each request's) are
    collected as before. ``medassist.wsgi`` calls it once the web process is ready; the
    benches that time pages in-process call it after their set-up, as the server does.
    """
    gc.collect()
    gc.freeze()
