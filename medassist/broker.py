"""The embedded broker for a machine without Redis: Kombu's filesystem transport, made safe.

Kombu's own ``filesystem`` transport creates a message file and then writes it, while a
consumer may already have moved it away and read it empty: the worker then dies with
"JSONDecodeError: Expecting value" (celery/kombu issue 1551). Seen here with the minute
sweeps. This transport writes each message under a hidden name and renames it into place,
so a consumer only ever sees whole messages. Everything else is Kombu's.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put ``payload`` onto ``queue``: written whole to a hidden file, then renamed."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: consumers match "<queue>.msg" after the first dot, so never this.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
