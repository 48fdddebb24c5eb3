"""The embedded broker never hands a worker half a message.

Kombu's stock filesystem transport creates a message file, then writes it; a worker polling
the folder could take it in between and die on "Expecting value" (seen on a first start,
when beat's minute sweeps landed while workers polled). Ours writes whole, then renames.
"""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty

from kombu import Connection


def _connection(folder: Path, transport: str = "medassist.broker:Transport") -> Connection:
    for sub in ("queue", "processed"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://localhost/",
        transport=transport,
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
        },
    )


def test_a_consumer_polling_while_messages_are_written_only_ever_reads_whole_ones(
    tmp_path: Path,
) -> None:
    n = 300
    big = "x" * 200_000  # long enough that a write takes a while
    with _connection(tmp_path) as writer_conn, _connection(tmp_path) as reader_conn:
        writer = writer_conn.default_channel
        reader = reader_conn.default_channel
        writer.queue_declare("jobs")

        def write() -> None:
            for i in range(n):
                writer._put("jobs", {"i": i, "body": big})

        thread = threading.Thread(target=write)
        thread.start()
        received = []
        while len(received) < n:
            try:
                message = reader._get("jobs")  # raises on a half-written message
            except Empty:
                continue
            assert message["body"] == big
            received.append(message["i"])
        thread.join()
    assert sorted(received) == list(range(n))
    assert not list((tmp_path / "queue").iterdir())  # nothing left behind, no partial file
