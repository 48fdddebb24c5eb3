"""The one error every ingest path raises for refused input, and the codes it carries."""

from __future__ import annotations


class IngestError(ValueError):
    """The input was refused; ``str(error)`` is a sentence a clinician or IT admin can act on.

    ``status`` is the HTTP status an API answers with; ``code`` is a short machine code that
    STOW-RS and the C-STORE SCP map to DICOM failure statuses:

    ==============================  ======  ===================================================
    code                            status  meaning
    ==============================  ======  ===================================================
    ``not_dicom``                   400     no Part 10 'DICM' marker, or not parseable as DICOM
    ``truncated``                   400     the file ends before its elements/pixels do
    ``corrupt``                     400     a header value cannot be understood (bad VR/length)
    ``missing_uid``                 400     no SOP Instance/Study/Series UID
    ``invalid_uid``                 400     a UID that is not digits and dots, or > 64 chars
    ``no_pixel_data``               400     an image SOP class without its pixel data, or a
                                            DICOMDIR (a report, RT object, waveform or PDF
                                            without pixels is stored as a non-image object)
    ``too_large``                   413     file size or Rows x Columns x Frames x Samples
                                            over the limit
    ``bomb``                        413     a Deflated file inflating past the limit
    ``unsupported_transfer_syntax`` 415     no decoder for the file's transfer syntax
    ``undecodable``                 422     a decoder exists but cannot decode this image
    ``conflict``                    409     same SOP Instance UID, different bytes: the new
                                            file is kept aside for an administrator
    ``hierarchy_conflict``          409     the study/series is filed under another
                                            patient/study
    ``invalid``                     400     the default for a refusal with no finer code
    ==============================  ======  ===================================================
    """

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
