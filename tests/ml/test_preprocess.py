"""Behaviour of DICOM -> display image -> model input preprocessing."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from medassist.ml.display import PixelDataError, dicom_to_display, display_to_png
from medassist.ml.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PREPROCESS_VERSION,
    dicom_to_tensor,
    resize,
    to_model_input,
)
from medassist.ml.synthetic import synthetic_dicom


def make_dataset(
    pixels: np.ndarray, *, photometric: str = "MONOCHROME2", **attrs: object
) -> pydicom.Dataset:
    """A minimal uncompressed dataset holding ``pixels`` (uint16 grey or uint8 RGB)."""
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPInstanceUID = generate_uid()
    rgb = pixels.ndim == 3 and pixels.shape[-1] == 3
    frames = pixels.shape[0] if pixels.ndim == (4 if rgb else 3) else 1
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if rgb else pixels.shape[-2:]
    ds.SamplesPerPixel = 3 if rgb else 1
    if rgb:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PhotometricInterpretation = photometric
    bits = 8 if rgb else 16
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u1" if rgb else "<u2").tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def test_preprocess_version_is_a_string() -> None:
    assert isinstance(PREPROCESS_VERSION, str) and PREPROCESS_VERSION


def test_rescale_slope_and_intercept_are_applied() -> None:
    stored = np.array([[0, 50], [100, 150]], dtype=np.uint16)
    ds = make_dataset(
        stored, RescaleSlope=2, RescaleIntercept=-100, WindowCenter=50, WindowWidth=301
    )
    out = dicom_to_display(ds)
    modality = stored * 2.0 - 100.0  # -100, 0, 100, 200
    expected = np.clip((modality - 49.5) / 300.0 + 0.5, 0.0, 1.0)
    assert out.dtype == np.float32 and out.shape == (2, 2)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_monochrome1_is_inverted_so_dense_is_bright() -> None:
    stored = np.array([[0, 100], [200, 300]], dtype=np.uint16)
    out = dicom_to_display(make_dataset(stored, photometric="MONOCHROME1"))
    # In MONOCHROME1 the lowest stored value is the densest, so it must display brightest.
    assert out[0, 0] == pytest.approx(1.0) and out[1, 1] == pytest.approx(0.0)

    pair = [
        synthetic_dicom(
            finding="nodule",
            patient_id="P",
            patient_name="A^B",
            size=64,
            rng=np.random.default_rng(7),
            monochrome1=flag,
        )
        for flag in (False, True)
    ]
    assert pair[1].PhotometricInterpretation == "MONOCHROME1"
    np.testing.assert_allclose(dicom_to_display(pair[1]), dicom_to_display(pair[0]), atol=2e-3)


def test_window_from_file_is_used() -> None:
    stored = np.array([[0, 1000], [1500, 4000]], dtype=np.uint16)
    ds = make_dataset(stored, WindowCenter=1250, WindowWidth=301)
    out = dicom_to_display(ds)
    # Outside the window saturates; a min-max stretch would give 0.25 and 0.375 here.
    assert out[0, 0] == 0.0 and out[1, 1] == 1.0
    assert out[0, 1] == 0.0 and out[1, 0] == 1.0


def test_window_override_replaces_the_files_window() -> None:
    stored = np.array([[0, 1000], [1500, 4000]], dtype=np.uint16)
    ds = make_dataset(stored, WindowCenter=1250, WindowWidth=301)
    out = dicom_to_display(ds, window=(2000.0, 4001.0))
    np.testing.assert_allclose(out, np.clip((stored - 1999.5) / 4000 + 0.5, 0, 1), atol=1e-6)


def test_without_a_window_the_image_is_stretched_min_to_max() -> None:
    out = dicom_to_display(make_dataset(np.array([[10, 20], [30, 50]], dtype=np.uint16)))
    np.testing.assert_allclose(out, [[0.0, 0.25], [0.5, 1.0]], atol=1e-6)


def test_a_dataset_without_pixel_data_raises_pixel_data_error() -> None:
    ds = make_dataset(np.zeros((2, 2), dtype=np.uint16))
    del ds.PixelData
    with pytest.raises(PixelDataError, match="no pixel data"):
        dicom_to_display(ds)


def test_truncated_pixel_data_raises_pixel_data_error() -> None:
    ds = make_dataset(np.zeros((4, 4), dtype=np.uint16))
    ds.PixelData = ds.PixelData[:6]
    with pytest.raises(PixelDataError):
        dicom_to_display(ds)


def test_rgb_is_converted_to_luminance() -> None:
    rgb = np.zeros((1, 3, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (255, 255, 255)
    out = dicom_to_display(make_dataset(rgb, photometric="RGB"))
    np.testing.assert_allclose(out, [[0.299, 0.587, 1.0]], atol=1e-6)


def test_the_requested_frame_of_a_multi_frame_image_is_shown() -> None:
    frames = np.stack([np.full((2, 2), v, dtype=np.uint16) for v in (0, 100, 200)])
    frames[:, 0, 0] = 0
    ds = make_dataset(frames, WindowCenter=100, WindowWidth=101)
    assert dicom_to_display(ds, frame=2)[1, 1] == 1.0
    assert dicom_to_display(ds, frame=0)[1, 1] == 0.0
    with pytest.raises(IndexError):
        dicom_to_display(ds, frame=3)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm"])
def test_pydicoms_reference_files_render(name: str) -> None:
    ds = pydicom.dcmread(get_testdata_file(name))
    out = dicom_to_display(ds)
    assert out.shape == (ds.Rows, ds.Columns) and out.dtype == np.float32
    assert 0.0 <= out.min() < out.max() <= 1.0
    assert dicom_to_tensor(ds, size=32).shape == (3, 32, 32)


def test_resize_gives_a_square_float32_image_keeping_the_value_range() -> None:
    img = np.linspace(0, 1, 60 * 40, dtype=np.float32).reshape(60, 40)
    out = resize(img, 16)
    assert out.shape == (16, 16) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_model_input_is_three_channels_normalised_with_imagenet_statistics() -> None:
    t = to_model_input(np.full((5, 7), 0.5, dtype=np.float32))
    assert t.shape == (3, 5, 7) and t.dtype == torch.float32
    expected = [(0.5 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    torch.testing.assert_close(t[:, 2, 3], torch.tensor(expected))


def test_display_png_is_8_bit_greyscale_of_the_same_size() -> None:
    img = np.array([[0.0, 0.5], [1.0, 2.0]], dtype=np.float32)
    png = display_to_png(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    decoded = Image.open(io.BytesIO(png))
    assert decoded.mode == "L" and decoded.size == (2, 2)
    assert np.asarray(decoded).tolist() == [[0, 128], [255, 255]]


# Uncompressed single-frame grey files from pydicom's own test data: 8, 10, 12, 14 (signed),
# 15, 16 (signed) and 32 bits, explicit, implicit and deflated little endian.
NATIVE_GREY_FILES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR2_UNCR.dcm",
    "RG3_UNCR.dcm",
    "RG1_UNCI.dcm",
    "693_UNCR.dcm",
    "rtdose_1frame.dcm",
    "image_dfl.dcm",
    "vlut_04.dcm",
]


@pytest.mark.parametrize("name", NATIVE_GREY_FILES)
def test_plain_grey_pixels_are_read_directly_and_equal_pydicoms(name: str) -> None:
    from medassist.ml.display import _native_grey

    ds = pydicom.dcmread(get_testdata_file(name))
    fast = _native_grey(ds)
    assert fast is not None, "this file should take the direct path"
    reference = ds.pixel_array
    assert fast.dtype == reference.dtype
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize("name", NATIVE_GREY_FILES)
def test_the_display_is_the_same_with_or_without_the_direct_path(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medassist.ml import display as preprocess

    ds = pydicom.dcmread(get_testdata_file(name))
    direct = dicom_to_display(ds)
    monkeypatch.setattr(preprocess, "_native_grey", lambda ds: None)
    through_pydicom = dicom_to_display(pydicom.dcmread(get_testdata_file(name)))
    np.testing.assert_allclose(direct, through_pydicom, atol=1e-6)


def test_unused_high_bits_are_ignored_and_signed_values_keep_their_sign() -> None:
    # 12 bits stored in 16: whatever the sender left in the top 4 bits must not count.
    clean = np.array([[0, 100], [2047, 4095]], dtype=np.uint16)
    ds = make_dataset(clean | 0xF000, WindowCenter=2048, WindowWidth=4096)
    ds.BitsStored, ds.HighBit = 12, 11
    reference = make_dataset(clean, WindowCenter=2048, WindowWidth=4096)
    np.testing.assert_array_equal(dicom_to_display(ds), dicom_to_display(reference))

    signed = make_dataset(np.array([[0x0FFF, 0x0800]], dtype=np.uint16), RescaleSlope=1)
    signed.BitsStored, signed.HighBit, signed.PixelRepresentation = 12, 11, 1
    signed.RescaleIntercept = 0
    from medassist.ml.display import _native_grey

    np.testing.assert_array_equal(_native_grey(signed), [[-1, -2048]])
    np.testing.assert_array_equal(_native_grey(signed), signed.pixel_array)


def test_images_the_direct_path_does_not_cover_go_through_pydicom() -> None:
    from medassist.ml.display import _native_grey

    rgb = make_dataset(np.zeros((1, 2, 2, 3), dtype=np.uint8)[0], photometric="RGB")
    frames = make_dataset(np.zeros((2, 2, 2), dtype=np.uint16))
    compressed = pydicom.dcmread(get_testdata_file("MR_small_RLE.dcm"))
    short = make_dataset(np.zeros((4, 4), dtype=np.uint16))
    short.PixelData = short.PixelData[:6]
    for ds in (rgb, frames, compressed, short):
        assert _native_grey(ds) is None
