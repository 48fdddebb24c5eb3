"""One image, one identity: is a second copy of a stored SOP Instance UID the same image?

The same image reaches MedAssist by several paths, and each wraps it differently: a file
uploaded or sent by STOW-RS keeps its sender's file meta group, C-STORE carries the data set
alone and the listener writes a new file meta group around it, and ingest zeroes every
preamble. So the whole file's SHA-256 says "the same file", not "the same image". Ingest
asks, cheapest first:

1. the same file (``Instance.sha256``);
2. the same data set (``Instance.dataset_sha256``: the bytes after the file meta group,
   inflated for Deflated files), whatever its file meta group or preamble;
3. only when the two copies are in different transfer syntaxes (a sender transcoded it: RLE
   on the network, uncompressed on disk): both are decoded, frame by frame, and compared
   pixel for pixel, together with every public attribute that does not describe the
   encoding (:data:`ENCODING_TAGS`).

A non-image object (a report, an RT plan...) is asked the same, its attributes alone
compared in step 3; an image and a non-image object are never the same.

A yes is a duplicate, answered as success and stored once. Anything else (other pixels, a
lossy copy of a lossless image, an attribute changed in the same transfer syntax) stays a
conflict, kept aside for an administrator: a correction silently dropped as a "duplicate"
would be worse than a question.
"""

from __future__ import annotations

import io
import itertools
import logging

import numpy as np
import pydicom
from pydicom.filewriter import correct_ambiguous_vr
from pydicom.pixels import iter_pixels
from pydicom.tag import BaseTag, Tag

from ..models import NonImageInstance, StoredInstance
from ..selectors import StoredFileError, instance_read_bytes
from .errors import IngestError
from .parsing import dataset_digest

logger = logging.getLogger(__name__)

# Attributes that describe how the pixels are encoded, not what they are: a lossless
# transcoding may change them (a JPEG file says YBR_FULL, its decoded copy RGB). The pixels
# themselves are compared decoded.
ENCODING_TAGS: frozenset[BaseTag] = frozenset(
    Tag(keyword)
    for keyword in (
        "PhotometricInterpretation",
        "PlanarConfiguration",
        "LossyImageCompression",
        "LossyImageCompressionRatio",
        "LossyImageCompressionMethod",
        "PixelData",
        "FloatPixelData",
        "DoubleFloatPixelData",
        "ExtendedOffsetTable",
        "ExtendedOffsetTableLengths",
        "DataSetTrailingPadding",
    )
)


def stored_dataset_sha256(*, instance: StoredInstance) -> str:
    """The instance's data set SHA-256; for a row stored before it was recorded, computed
    from the stored file (verified against its SHA-256) and recorded now. "" if the stored
    file cannot be read, which makes the newcomer a conflict for an administrator."""
    if instance.dataset_sha256:
        return instance.dataset_sha256
    try:
        _, digest = dataset_digest(instance_read_bytes(instance=instance))
    except (StoredFileError, IngestError) as exc:
        logger.error("Cannot compute the data set SHA-256 of %s: %s", instance, exc)
        return ""
    type(instance).objects.filter(pk=instance.pk, dataset_sha256="").update(dataset_sha256=digest)
    instance.dataset_sha256 = digest
    return digest


def same_dataset(*, instance: StoredInstance, sha256: str, dataset_sha256: str) -> bool:
    """Whether a copy with this file SHA-256 and data set SHA-256 is the stored instance,
    byte for byte once the preamble and the file meta group are set aside. Decodes nothing."""
    if instance.sha256 == sha256:
        return True
    return bool(dataset_sha256) and stored_dataset_sha256(instance=instance) == dataset_sha256


def same_image(
    *, instance: StoredInstance, data: bytes, transfer_syntax: str, has_pixel_data: bool = True
) -> bool:
    """Whether ``data`` (already checked and decoded once by ingest) holds the stored image in
    another transfer syntax: equal decoded pixels and equal public attributes, those of
    :data:`ENCODING_TAGS` aside. Copies in the same transfer syntax are never compared this
    way (their data set digests already differ). Decodes both, one frame at a time.

    ``has_pixel_data`` False: ``data`` is a non-image object, the same as a stored non-image
    object when their attributes are equal; never the same as a stored image (nor the
    reverse)."""
    if isinstance(instance, NonImageInstance) == has_pixel_data:
        return False
    try:
        stored = instance_read_bytes(instance=instance)
        stored_syntax, _ = dataset_digest(stored)
    except (StoredFileError, IngestError) as exc:
        logger.error("Cannot compare a copy with %s: %s", instance, exc)
        return False
    if stored_syntax == transfer_syntax:
        return False
    try:
        return _decoded_equal(stored, data)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:
        # The newcomer decoded at ingest and the stored copy when it arrived; a failure here
        # (a decoder plugin's own exception type) means "not shown to be the same".
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        logger.warning("Could not compare a copy with %s by its pixels: %s", instance, exc)
        return False


def _read(data: bytes) -> pydicom.Dataset:
    ds = pydicom.dcmread(io.BytesIO(data))
    # Implicit VR leaves some VRs ambiguous (US or SS); resolve them as the file's own
    # PixelRepresentation says, so both copies' values read alike.
    return correct_ambiguous_vr(ds, is_little_endian=True)


def _attributes(ds: pydicom.Dataset) -> dict[BaseTag, object]:
    # Private elements are left out: a router or archive may add its own on the way.
    return {
        elem.tag: elem.value
        for elem in ds
        if not elem.tag.is_private and elem.tag.element != 0 and elem.tag not in ENCODING_TAGS
    }


def _decoded_equal(first: bytes, second: bytes) -> bool:
    a, b = _read(first), _read(second)
    if _attributes(a) != _attributes(b):
        return False
    if not any(tag in a for tag in ENCODING_TAGS if tag.group == 0x7FE0):
        return True  # a non-image object: its attributes are all there is
    for frame_a, frame_b in itertools.zip_longest(iter_pixels(a), iter_pixels(b)):
        if frame_a is None or frame_b is None or not np.array_equal(frame_a, frame_b):
            return False
    return True
