"""Send one DICOM file by C-STORE, streamed from disk, and print what happened as JSON.

Run as a separate process by the bomb tests, so that the sender's own memory never counts
against the listener's: ``python cstore_send.py PORT CALLED_AE PATH``.
"""

from __future__ import annotations

import json
import sys
import time

from pydicom.filereader import read_file_meta_info
from pynetdicom import AE, _config

CALLING_AE = "TEST_PACS"


def main() -> None:
    port, called, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    _config.STORE_SEND_CHUNKED_DATASET = True
    meta = read_file_meta_info(path)
    ae = AE(ae_title=CALLING_AE)
    ae.add_requested_context(meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
    started = time.monotonic()
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    outcome: dict[str, object] = {"established": assoc.is_established}
    if assoc.is_established:
        answer = assoc.send_c_store(path)
        outcome["status"] = int(answer.Status) if "Status" in answer else None
        outcome["comment"] = str(answer.get("ErrorComment", ""))
        outcome["aborted"] = assoc.is_aborted
        if assoc.is_established:
            assoc.release()
    outcome["seconds"] = round(time.monotonic() - started, 3)
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
