"""DICOM de-identification by PS3.15 Annex E, the Basic Application Level Confidentiality Profile.

Pure DICOM: no AI, no database writes. :class:`Deidentifier` is one export's de-identifier:
it holds the export's UID replacements (the same original UID gets the same new UID within
one export, a fresh random one in every other export) and one random date offset per
patient. :data:`TABLE_E1_1` is Table E.1-1 of PS3.15 as data: every single-tag row of the
DICOM 2024b edition, with the Basic Profile action and the two option columns implemented
here (Retain Longitudinal Temporal Information with Modified Dates, Clean Descriptors).
The rows that are not single tags (curves, overlays, private attributes) are handled in
code and listed in :data:`GROUP_ROWS`. ``docs/deid.md`` says where the table comes from and
what each action does here.

The profile cannot see text burned into the pixels: :func:`burned_in_reason` says which
images must be left out of an export for that reason.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pydicom
from django.conf import settings
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sr.codedict import codes
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, generate_uid

from .models import Instance


class ProfileRow(NamedTuple):
    """One row of Table E.1-1: the Basic Profile action and the option columns used here.

    ``basic`` is one of X, Z, D, U or a combination (X/Z, X/D, X/Z/D, Z/D, X/Z/U*);
    ``modified_dates`` and ``clean_descriptors`` are "C" where the option cleans the
    attribute instead, else empty.
    """

    tag: int
    keyword: str
    basic: str
    modified_dates: str
    clean_descriptors: str


# Table E.1-1 (PS3.15, DICOM 2024b), every single-tag row:
# (tag, keyword, Basic Profile, Rtn. Long. Modif. Dates Opt., Clean Desc. Opt.).
# Generated once from innolitics/dicom-standard standard/confidentiality_profile_attributes.json
# (see docs/deid.md); keywords from pydicom's data dictionary.
_ROWS: tuple[tuple[int, str, str, str, str], ...] = (
    (0x00001000, "AffectedSOPInstanceUID", "X", "", ""),
    (0x00001001, "RequestedSOPInstanceUID", "U", "", ""),
    (0x00020003, "MediaStorageSOPInstanceUID", "U", "", ""),
    (0x00041511, "ReferencedSOPInstanceUIDInFile", "U", "", ""),
    (0x00080012, "InstanceCreationDate", "X/D", "C", ""),
    (0x00080013, "InstanceCreationTime", "X/Z/D", "C", ""),
    (0x00080014, "InstanceCreatorUID", "U", "", ""),
    (0x00080015, "InstanceCoercionDateTime", "X", "C", ""),
    (0x00080017, "AcquisitionUID", "U", "", ""),
    (0x00080018, "SOPInstanceUID", "U", "", ""),
    (0x00080019, "PyramidUID", "U", "", ""),
    (0x00080020, "StudyDate", "Z", "C", ""),
    (0x00080021, "SeriesDate", "X/D", "C", ""),
    (0x00080022, "AcquisitionDate", "X/Z", "C", ""),
    (0x00080023, "ContentDate", "Z/D", "C", ""),
    (0x00080024, "OverlayDate", "X", "C", ""),
    (0x00080025, "CurveDate", "X", "C", ""),
    (0x0008002A, "AcquisitionDateTime", "X/Z/D", "C", ""),
    (0x00080030, "StudyTime", "Z", "C", ""),
    (0x00080031, "SeriesTime", "X/D", "C", ""),
    (0x00080032, "AcquisitionTime", "X/Z", "C", ""),
    (0x00080033, "ContentTime", "Z/D", "C", ""),
    (0x00080034, "OverlayTime", "X", "C", ""),
    (0x00080035, "CurveTime", "X", "C", ""),
    (0x00080050, "AccessionNumber", "Z", "", ""),
    (0x00080054, "RetrieveAETitle", "X", "", ""),
    (0x00080055, "StationAETitle", "X", "", ""),
    (0x00080058, "FailedSOPInstanceUIDList", "U", "", ""),
    (0x00080080, "InstitutionName", "X/Z/D", "", ""),
    (0x00080081, "InstitutionAddress", "X", "", ""),
    (0x00080082, "InstitutionCodeSequence", "X/Z/D", "", ""),
    (0x00080090, "ReferringPhysicianName", "Z", "", ""),
    (0x00080092, "ReferringPhysicianAddress", "X", "", ""),
    (0x00080094, "ReferringPhysicianTelephoneNumbers", "X", "", ""),
    (0x00080096, "ReferringPhysicianIdentificationSequence", "X", "", ""),
    (0x0008009C, "ConsultingPhysicianName", "Z", "", ""),
    (0x0008009D, "ConsultingPhysicianIdentificationSequence", "X", "", ""),
    (0x00080106, "ContextGroupVersion", "D", "C", ""),
    (0x00080107, "ContextGroupLocalVersion", "D", "C", ""),
    (0x00080201, "TimezoneOffsetFromUTC", "X", "C", ""),
    (0x00081000, "NetworkID", "X", "", ""),
    (0x00081010, "StationName", "X/Z/D", "", ""),
    (0x00081030, "StudyDescription", "X", "", "C"),
    (0x0008103E, "SeriesDescription", "X", "", "C"),
    (0x00081040, "InstitutionalDepartmentName", "X", "", ""),
    (0x00081041, "InstitutionalDepartmentTypeCodeSequence", "X", "", ""),
    (0x00081048, "PhysiciansOfRecord", "X", "", ""),
    (0x00081049, "PhysiciansOfRecordIdentificationSequence", "X", "", ""),
    (0x00081050, "PerformingPhysicianName", "X", "", ""),
    (0x00081052, "PerformingPhysicianIdentificationSequence", "X", "", ""),
    (0x00081060, "NameOfPhysiciansReadingStudy", "X", "", ""),
    (0x00081062, "PhysiciansReadingStudyIdentificationSequence", "X", "", ""),
    (0x00081070, "OperatorsName", "X/Z/D", "", ""),
    (0x00081072, "OperatorIdentificationSequence", "X/D", "", ""),
    (0x00081080, "AdmittingDiagnosesDescription", "X", "", "C"),
    (0x00081084, "AdmittingDiagnosesCodeSequence", "X", "", "C"),
    (0x00081088, "PyramidDescription", "X", "", "C"),
    (0x00081110, "ReferencedStudySequence", "X/Z", "", ""),
    (0x00081111, "ReferencedPerformedProcedureStepSequence", "X/Z/D", "", ""),
    (0x00081120, "ReferencedPatientSequence", "X", "", ""),
    (0x00081140, "ReferencedImageSequence", "X/Z/U*", "", ""),
    (0x00081155, "ReferencedSOPInstanceUID", "U", "", ""),
    (0x00081195, "TransactionUID", "U", "", ""),
    (0x00082111, "DerivationDescription", "X", "", "C"),
    (0x00082112, "SourceImageSequence", "X/Z/U*", "", ""),
    (0x00083010, "IrradiationEventUID", "U", "", ""),
    (0x00084000, "IdentifyingComments", "X", "", "C"),
    (0x00100010, "PatientName", "Z", "", ""),
    (0x00100020, "PatientID", "Z/D", "", ""),
    (0x00100021, "IssuerOfPatientID", "X", "", ""),
    (0x00100030, "PatientBirthDate", "Z", "", ""),
    (0x00100032, "PatientBirthTime", "X", "", ""),
    (0x00100040, "PatientSex", "Z", "", ""),
    (0x00100050, "PatientInsurancePlanCodeSequence", "X", "", ""),
    (0x00100101, "PatientPrimaryLanguageCodeSequence", "X", "", ""),
    (0x00100102, "PatientPrimaryLanguageModifierCodeSequence", "X", "", ""),
    (0x00101000, "OtherPatientIDs", "X", "", ""),
    (0x00101001, "OtherPatientNames", "X", "", ""),
    (0x00101002, "OtherPatientIDsSequence", "X", "", ""),
    (0x00101005, "PatientBirthName", "X", "", ""),
    (0x00101010, "PatientAge", "X", "", ""),
    (0x00101020, "PatientSize", "X", "", ""),
    (0x00101030, "PatientWeight", "X", "", ""),
    (0x00101040, "PatientAddress", "X", "", ""),
    (0x00101050, "InsurancePlanIdentification", "X", "", ""),
    (0x00101060, "PatientMotherBirthName", "X", "", ""),
    (0x00101080, "MilitaryRank", "X", "", ""),
    (0x00101081, "BranchOfService", "X", "", ""),
    (0x00101090, "MedicalRecordLocator", "X", "", ""),
    (0x00101100, "ReferencedPatientPhotoSequence", "X", "", ""),
    (0x00102000, "MedicalAlerts", "X", "", "C"),
    (0x00102110, "Allergies", "X", "", "C"),
    (0x00102150, "CountryOfResidence", "X", "", ""),
    (0x00102152, "RegionOfResidence", "X", "", ""),
    (0x00102154, "PatientTelephoneNumbers", "X", "", ""),
    (0x00102155, "PatientTelecomInformation", "X", "", ""),
    (0x00102160, "EthnicGroup", "X", "", ""),
    (0x00102180, "Occupation", "X", "", "C"),
    (0x001021A0, "SmokingStatus", "X", "", ""),
    (0x001021B0, "AdditionalPatientHistory", "X", "", "C"),
    (0x001021C0, "PregnancyStatus", "X", "", ""),
    (0x001021D0, "LastMenstrualDate", "X", "C", ""),
    (0x001021F0, "PatientReligiousPreference", "X", "", ""),
    (0x00102203, "PatientSexNeutered", "X/Z", "", ""),
    (0x00102297, "ResponsiblePerson", "X", "", ""),
    (0x00102299, "ResponsibleOrganization", "X", "", ""),
    (0x00104000, "PatientComments", "X", "", "C"),
    (0x00120010, "ClinicalTrialSponsorName", "D", "", ""),
    (0x00120020, "ClinicalTrialProtocolID", "D", "", ""),
    (0x00120021, "ClinicalTrialProtocolName", "Z", "", ""),
    (0x00120022, "IssuerOfClinicalTrialProtocolID", "X", "", ""),
    (0x00120023, "OtherClinicalTrialProtocolIDsSequence", "X", "", ""),
    (0x00120030, "ClinicalTrialSiteID", "Z", "", ""),
    (0x00120031, "ClinicalTrialSiteName", "Z", "", ""),
    (0x00120032, "IssuerOfClinicalTrialSiteID", "X", "", ""),
    (0x00120040, "ClinicalTrialSubjectID", "D", "", ""),
    (0x00120041, "IssuerOfClinicalTrialSubjectID", "X", "", ""),
    (0x00120042, "ClinicalTrialSubjectReadingID", "D", "", ""),
    (0x00120043, "IssuerOfClinicalTrialSubjectReadingID", "X", "", ""),
    (0x00120050, "ClinicalTrialTimePointID", "Z", "", ""),
    (0x00120051, "ClinicalTrialTimePointDescription", "X", "", "C"),
    (0x00120055, "IssuerOfClinicalTrialTimePointID", "X", "", ""),
    (0x00120060, "ClinicalTrialCoordinatingCenterName", "Z", "", ""),
    (0x00120071, "ClinicalTrialSeriesID", "X", "", ""),
    (0x00120072, "ClinicalTrialSeriesDescription", "X", "", "C"),
    (0x00120073, "IssuerOfClinicalTrialSeriesID", "X", "", ""),
    (0x00120081, "ClinicalTrialProtocolEthicsCommitteeName", "D", "", ""),
    (0x00120082, "ClinicalTrialProtocolEthicsCommitteeApprovalNumber", "X", "", ""),
    (0x00120086, "EthicsCommitteeApprovalEffectivenessStartDate", "X", "C", ""),
    (0x00120087, "EthicsCommitteeApprovalEffectivenessEndDate", "X", "C", ""),
    (0x0014407C, "CalibrationTime", "X", "C", ""),
    (0x0014407E, "CalibrationDate", "X", "C", ""),
    (0x0016002B, "MakerNote", "X", "", "C"),
    (0x0016004B, "DeviceSettingDescription", "X", "", "C"),
    (0x0016004D, "CameraOwnerName", "X", "", ""),
    (0x0016004E, "LensSpecification", "X", "", ""),
    (0x0016004F, "LensMake", "X", "", ""),
    (0x00160050, "LensModel", "X", "", ""),
    (0x00160051, "LensSerialNumber", "X", "", ""),
    (0x00160070, "GPSVersionID", "X", "", ""),
    (0x00160071, "GPSLatitudeRef", "X", "", ""),
    (0x00160072, "GPSLatitude", "X", "", ""),
    (0x00160073, "GPSLongitudeRef", "X", "", ""),
    (0x00160074, "GPSLongitude", "X", "", ""),
    (0x00160075, "GPSAltitudeRef", "X", "", ""),
    (0x00160076, "GPSAltitude", "X", "", ""),
    (0x00160077, "GPSTimeStamp", "X", "", ""),
    (0x00160078, "GPSSatellites", "X", "", ""),
    (0x00160079, "GPSStatus", "X", "", ""),
    (0x0016007A, "GPSMeasureMode", "X", "", ""),
    (0x0016007B, "GPSDOP", "X", "", ""),
    (0x0016007C, "GPSSpeedRef", "X", "", ""),
    (0x0016007D, "GPSSpeed", "X", "", ""),
    (0x0016007E, "GPSTrackRef", "X", "", ""),
    (0x0016007F, "GPSTrack", "X", "", ""),
    (0x00160080, "GPSImgDirectionRef", "X", "", ""),
    (0x00160081, "GPSImgDirection", "X", "", ""),
    (0x00160082, "GPSMapDatum", "X", "", ""),
    (0x00160083, "GPSDestLatitudeRef", "X", "", ""),
    (0x00160084, "GPSDestLatitude", "X", "", ""),
    (0x00160085, "GPSDestLongitudeRef", "X", "", ""),
    (0x00160086, "GPSDestLongitude", "X", "", ""),
    (0x00160087, "GPSDestBearingRef", "X", "", ""),
    (0x00160088, "GPSDestBearing", "X", "", ""),
    (0x00160089, "GPSDestDistanceRef", "X", "", ""),
    (0x0016008A, "GPSDestDistance", "X", "", ""),
    (0x0016008B, "GPSProcessingMethod", "X", "", ""),
    (0x0016008C, "GPSAreaInformation", "X", "", ""),
    (0x0016008D, "GPSDateStamp", "X", "C", ""),
    (0x0016008E, "GPSDifferential", "X", "", ""),
    (0x00180010, "ContrastBolusAgent", "Z/D", "", "C"),
    (0x00180027, "InterventionDrugStopTime", "X", "C", ""),
    (0x00180035, "InterventionDrugStartTime", "X", "C", ""),
    (0x00181000, "DeviceSerialNumber", "X/Z/D", "", ""),
    (0x00181002, "DeviceUID", "U", "", ""),
    (0x00181004, "PlateID", "X", "", ""),
    (0x00181005, "GeneratorID", "X", "", ""),
    (0x00181007, "CassetteID", "X", "", ""),
    (0x00181008, "GantryID", "X", "", ""),
    (0x00181009, "UniqueDeviceIdentifier", "X", "", ""),
    (0x0018100A, "UDISequence", "X", "", ""),
    (0x0018100B, "ManufacturerDeviceClassUID", "U", "", ""),
    (0x00181012, "DateOfSecondaryCapture", "X", "C", ""),
    (0x00181014, "TimeOfSecondaryCapture", "X", "C", ""),
    (0x00181030, "ProtocolName", "X/D", "", "C"),
    (0x00181042, "ContrastBolusStartTime", "X", "C", ""),
    (0x00181043, "ContrastBolusStopTime", "X", "C", ""),
    (0x00181072, "RadiopharmaceuticalStartTime", "X", "C", ""),
    (0x00181073, "RadiopharmaceuticalStopTime", "X", "C", ""),
    (0x00181078, "RadiopharmaceuticalStartDateTime", "X", "C", ""),
    (0x00181079, "RadiopharmaceuticalStopDateTime", "X", "C", ""),
    (0x001811BB, "AcquisitionFieldOfViewLabel", "D", "", "C"),
    (0x00181200, "DateOfLastCalibration", "X", "C", ""),
    (0x00181201, "TimeOfLastCalibration", "X", "C", ""),
    (0x00181202, "DateTimeOfLastCalibration", "X", "C", ""),
    (0x00181203, "CalibrationDateTime", "Z", "C", ""),
    (0x00181204, "DateOfManufacture", "X", "C", ""),
    (0x00181205, "DateOfInstallation", "X", "C", ""),
    (0x00181400, "AcquisitionDeviceProcessingDescription", "X/D", "", "C"),
    (0x00182042, "TargetUID", "U", "", ""),
    (0x00184000, "AcquisitionComments", "X", "", "C"),
    (0x00185011, "TransducerIdentificationSequence", "X", "", ""),
    (0x0018700A, "DetectorID", "X/D", "", ""),
    (0x0018700C, "DateOfLastDetectorCalibration", "X/D", "C", ""),
    (0x0018700E, "TimeOfLastDetectorCalibration", "X/D", "C", ""),
    (0x00189074, "FrameAcquisitionDateTime", "D", "C", ""),
    (0x00189151, "FrameReferenceDateTime", "D", "C", ""),
    (0x00189185, "RespiratoryMotionCompensationTechniqueDescription", "X", "", "C"),
    (0x00189367, "XRaySourceID", "D", "", ""),
    (0x00189369, "SourceStartDateTime", "D", "C", ""),
    (0x0018936A, "SourceEndDateTime", "D", "C", ""),
    (0x00189371, "XRayDetectorID", "D", "", ""),
    (0x00189373, "XRayDetectorLabel", "X", "", ""),
    (0x0018937B, "MultienergyAcquisitionDescription", "X", "", "C"),
    (0x0018937F, "DecompositionDescription", "X", "", "C"),
    (0x00189424, "AcquisitionProtocolDescription", "X", "", "C"),
    (0x00189516, "StartAcquisitionDateTime", "X/D", "C", ""),
    (0x00189517, "EndAcquisitionDateTime", "X/D", "C", ""),
    (0x00189623, "FunctionalSyncPulse", "D", "C", ""),
    (0x00189701, "DecayCorrectionDateTime", "D", "C", ""),
    (0x00189804, "ExclusionStartDateTime", "D", "C", ""),
    (0x00189919, "InstructionPerformedDateTime", "Z/D", "C", ""),
    (0x00189937, "RequestedSeriesDescription", "X", "", "C"),
    (0x0018A002, "ContributionDateTime", "X", "C", ""),
    (0x0018A003, "ContributionDescription", "X", "", "C"),
    (0x0020000D, "StudyInstanceUID", "U", "", ""),
    (0x0020000E, "SeriesInstanceUID", "U", "", ""),
    (0x00200010, "StudyID", "Z", "", ""),
    (0x00200027, "PyramidLabel", "X", "", "C"),
    (0x00200052, "FrameOfReferenceUID", "U", "", ""),
    (0x00200200, "SynchronizationFrameOfReferenceUID", "U", "", ""),
    (0x00203401, "ModifyingDeviceID", "X", "", ""),
    (0x00203403, "ModifiedImageDate", "X", "C", ""),
    (0x00203405, "ModifiedImageTime", "X", "C", ""),
    (0x00203406, "ModifiedImageDescription", "X", "", ""),
    (0x00204000, "ImageComments", "X", "", "C"),
    (0x00209158, "FrameComments", "X", "", "C"),
    (0x00209161, "ConcatenationUID", "U", "", ""),
    (0x00209164, "DimensionOrganizationUID", "U", "", ""),
    (0x00281199, "PaletteColorLookupTableUID", "U", "", ""),
    (0x00281214, "LargePaletteColorLookupTableUID", "U", "", ""),
    (0x00284000, "ImagePresentationComments", "X", "", ""),
    (0x00320012, "StudyIDIssuer", "X", "", ""),
    (0x00320032, "StudyVerifiedDate", "X", "C", ""),
    (0x00320033, "StudyVerifiedTime", "X", "C", ""),
    (0x00320034, "StudyReadDate", "X", "C", ""),
    (0x00320035, "StudyReadTime", "X", "C", ""),
    (0x00321000, "ScheduledStudyStartDate", "X", "C", ""),
    (0x00321001, "ScheduledStudyStartTime", "X", "C", ""),
    (0x00321010, "ScheduledStudyStopDate", "X", "C", ""),
    (0x00321011, "ScheduledStudyStopTime", "X", "C", ""),
    (0x00321020, "ScheduledStudyLocation", "X", "", ""),
    (0x00321021, "ScheduledStudyLocationAETitle", "X", "", ""),
    (0x00321030, "ReasonForStudy", "X", "", "C"),
    (0x00321032, "RequestingPhysician", "X", "", ""),
    (0x00321033, "RequestingService", "X", "", ""),
    (0x00321040, "StudyArrivalDate", "X", "C", ""),
    (0x00321041, "StudyArrivalTime", "X", "C", ""),
    (0x00321050, "StudyCompletionDate", "X", "C", ""),
    (0x00321051, "StudyCompletionTime", "X", "C", ""),
    (0x00321060, "RequestedProcedureDescription", "X/Z", "", "C"),
    (0x00321066, "ReasonForVisit", "X", "", "C"),
    (0x00321067, "ReasonForVisitCodeSequence", "X", "", "C"),
    (0x00321070, "RequestedContrastAgent", "X", "", "C"),
    (0x00324000, "StudyComments", "X", "", "C"),
    (0x00340001, "FlowIdentifierSequence", "D", "", ""),
    (0x00340002, "FlowIdentifier", "D", "", ""),
    (0x00340005, "SourceIdentifier", "D", "", ""),
    (0x00340007, "FrameOriginTimestamp", "D", "C", ""),
    (0x00380004, "ReferencedPatientAliasSequence", "X", "", ""),
    (0x00380010, "AdmissionID", "X", "", ""),
    (0x00380011, "IssuerOfAdmissionID", "X", "", ""),
    (0x00380014, "IssuerOfAdmissionIDSequence", "X", "", ""),
    (0x0038001A, "ScheduledAdmissionDate", "X", "C", ""),
    (0x0038001B, "ScheduledAdmissionTime", "X", "C", ""),
    (0x0038001C, "ScheduledDischargeDate", "X", "C", ""),
    (0x0038001D, "ScheduledDischargeTime", "X", "C", ""),
    (0x0038001E, "ScheduledPatientInstitutionResidence", "X", "", ""),
    (0x00380020, "AdmittingDate", "X", "C", ""),
    (0x00380021, "AdmittingTime", "X", "C", ""),
    (0x00380030, "DischargeDate", "X", "C", ""),
    (0x00380032, "DischargeTime", "X", "C", ""),
    (0x00380040, "DischargeDiagnosisDescription", "X", "", "C"),
    (0x00380050, "SpecialNeeds", "X", "", ""),
    (0x00380060, "ServiceEpisodeID", "X", "", ""),
    (0x00380061, "IssuerOfServiceEpisodeID", "X", "", ""),
    (0x00380062, "ServiceEpisodeDescription", "X", "", "C"),
    (0x00380064, "IssuerOfServiceEpisodeIDSequence", "X", "", ""),
    (0x00380300, "CurrentPatientLocation", "X", "", ""),
    (0x00380400, "PatientInstitutionResidence", "X", "", ""),
    (0x00380500, "PatientState", "X", "", "C"),
    (0x00384000, "VisitComments", "X", "", "C"),
    (0x003A0310, "MultiplexGroupUID", "U", "", ""),
    (0x003A0314, "ImpedanceMeasurementDateTime", "D", "C", ""),
    (0x003A0329, "WaveformFilterDescription", "X", "", "C"),
    (0x003A032B, "FilterLookupTableDescription", "X", "", "C"),
    (0x00400001, "ScheduledStationAETitle", "X", "", ""),
    (0x00400002, "ScheduledProcedureStepStartDate", "X", "C", ""),
    (0x00400003, "ScheduledProcedureStepStartTime", "X", "C", ""),
    (0x00400004, "ScheduledProcedureStepEndDate", "X", "C", ""),
    (0x00400005, "ScheduledProcedureStepEndTime", "X", "C", ""),
    (0x00400006, "ScheduledPerformingPhysicianName", "X", "", ""),
    (0x00400007, "ScheduledProcedureStepDescription", "X", "", "C"),
    (0x00400009, "ScheduledProcedureStepID", "X", "", ""),
    (0x0040000B, "ScheduledPerformingPhysicianIdentificationSequence", "X", "", ""),
    (0x00400010, "ScheduledStationName", "X", "", ""),
    (0x00400011, "ScheduledProcedureStepLocation", "X", "", ""),
    (0x00400012, "PreMedication", "X", "", ""),
    (0x00400241, "PerformedStationAETitle", "X", "", ""),
    (0x00400242, "PerformedStationName", "X", "", ""),
    (0x00400243, "PerformedLocation", "X", "", ""),
    (0x00400244, "PerformedProcedureStepStartDate", "X", "C", ""),
    (0x00400245, "PerformedProcedureStepStartTime", "X", "C", ""),
    (0x00400250, "PerformedProcedureStepEndDate", "X", "C", ""),
    (0x00400251, "PerformedProcedureStepEndTime", "X", "C", ""),
    (0x00400253, "PerformedProcedureStepID", "X", "", ""),
    (0x00400254, "PerformedProcedureStepDescription", "X", "", "C"),
    (0x00400275, "RequestAttributesSequence", "X", "", "C"),
    (0x00400280, "CommentsOnThePerformedProcedureStep", "X", "", "C"),
    (0x00400310, "CommentsOnRadiationDose", "X", "", "C"),
    (0x0040050A, "SpecimenAccessionNumber", "X", "", ""),
    (0x00400512, "ContainerIdentifier", "D", "", ""),
    (0x00400513, "IssuerOfTheContainerIdentifierSequence", "Z", "", ""),
    (0x0040051A, "ContainerDescription", "X", "", "C"),
    (0x00400551, "SpecimenIdentifier", "D", "", ""),
    (0x00400554, "SpecimenUID", "U", "", ""),
    (0x00400555, "AcquisitionContextSequence", "X/Z", "", ""),
    (0x00400562, "IssuerOfTheSpecimenIdentifierSequence", "Z", "", ""),
    (0x00400600, "SpecimenShortDescription", "X", "", "C"),
    (0x00400602, "SpecimenDetailedDescription", "X", "", "C"),
    (0x00400610, "SpecimenPreparationSequence", "Z", "", ""),
    (0x004006FA, "SlideIdentifier", "X", "", ""),
    (0x00401001, "RequestedProcedureID", "X", "", ""),
    (0x00401002, "ReasonForTheRequestedProcedure", "X", "", "C"),
    (0x00401004, "PatientTransportArrangements", "X", "", ""),
    (0x00401005, "RequestedProcedureLocation", "X", "", ""),
    (0x0040100A, "ReasonForRequestedProcedureCodeSequence", "X", "", "C"),
    (0x00401010, "NamesOfIntendedRecipientsOfResults", "X", "", ""),
    (0x00401011, "IntendedRecipientsOfResultsIdentificationSequence", "X", "", ""),
    (0x00401101, "PersonIdentificationCodeSequence", "D", "", ""),
    (0x00401102, "PersonAddress", "X", "", ""),
    (0x00401103, "PersonTelephoneNumbers", "X", "", ""),
    (0x00401104, "PersonTelecomInformation", "X", "", ""),
    (0x00401400, "RequestedProcedureComments", "X", "", "C"),
    (0x00402001, "ReasonForTheImagingServiceRequest", "X", "", "C"),
    (0x00402004, "IssueDateOfImagingServiceRequest", "X", "C", ""),
    (0x00402005, "IssueTimeOfImagingServiceRequest", "X", "C", ""),
    (0x00402008, "OrderEnteredBy", "X", "", ""),
    (0x00402009, "OrderEntererLocation", "X", "", ""),
    (0x00402010, "OrderCallbackPhoneNumber", "X", "", ""),
    (0x00402011, "OrderCallbackTelecomInformation", "X", "", ""),
    (0x00402016, "PlacerOrderNumberImagingServiceRequest", "Z", "", ""),
    (0x00402017, "FillerOrderNumberImagingServiceRequest", "Z", "", ""),
    (0x00402400, "ImagingServiceRequestComments", "X", "", "C"),
    (0x00403001, "ConfidentialityConstraintOnPatientDataDescription", "X", "", ""),
    (0x00404005, "ScheduledProcedureStepStartDateTime", "X", "C", ""),
    (0x00404008, "ScheduledProcedureStepExpirationDateTime", "X", "C", ""),
    (0x00404010, "ScheduledProcedureStepModificationDateTime", "X", "C", ""),
    (0x00404011, "ExpectedCompletionDateTime", "X", "C", ""),
    (0x00404023, "ReferencedGeneralPurposeScheduledProcedureStepTransactionUID", "U", "", ""),
    (0x00404025, "ScheduledStationNameCodeSequence", "X", "", ""),
    (0x00404027, "ScheduledStationGeographicLocationCodeSequence", "X", "", ""),
    (0x00404028, "PerformedStationNameCodeSequence", "X", "", ""),
    (0x00404030, "PerformedStationGeographicLocationCodeSequence", "X", "", ""),
    (0x00404034, "ScheduledHumanPerformersSequence", "X", "", ""),
    (0x00404035, "ActualHumanPerformersSequence", "X", "", ""),
    (0x00404036, "HumanPerformerOrganization", "X", "", ""),
    (0x00404037, "HumanPerformerName", "X", "", ""),
    (0x00404050, "PerformedProcedureStepStartDateTime", "X", "C", ""),
    (0x00404051, "PerformedProcedureStepEndDateTime", "X", "C", ""),
    (0x00404052, "ProcedureStepCancellationDateTime", "X", "C", ""),
    (0x0040A023, "FindingsGroupRecordingDateTrial", "X", "C", ""),
    (0x0040A024, "FindingsGroupRecordingTimeTrial", "X", "C", ""),
    (0x0040A027, "VerifyingOrganization", "D", "", ""),
    (0x0040A030, "VerificationDateTime", "D", "C", ""),
    (0x0040A032, "ObservationDateTime", "X/D", "C", ""),
    (0x0040A033, "ObservationStartDateTime", "X", "C", ""),
    (0x0040A073, "VerifyingObserverSequence", "D", "", ""),
    (0x0040A075, "VerifyingObserverName", "D", "", ""),
    (0x0040A078, "AuthorObserverSequence", "X", "", ""),
    (0x0040A07A, "ParticipantSequence", "X", "", ""),
    (0x0040A07C, "CustodialOrganizationSequence", "X", "", ""),
    (0x0040A082, "ParticipationDateTime", "Z", "C", ""),
    (0x0040A088, "VerifyingObserverIdentificationCodeSequence", "Z", "", ""),
    (0x0040A110, "DateOfDocumentOrVerbalTransactionTrial", "X", "C", ""),
    (0x0040A112, "TimeOfDocumentCreationOrVerbalTransactionTrial", "X", "C", ""),
    (0x0040A120, "DateTime", "D", "C", ""),
    (0x0040A121, "Date", "D", "C", ""),
    (0x0040A122, "Time", "D", "C", ""),
    (0x0040A123, "PersonName", "D", "", ""),
    (0x0040A124, "UID", "U", "", ""),
    (0x0040A13A, "ReferencedDateTime", "D", "C", ""),
    (0x0040A171, "ObservationUID", "U", "", ""),
    (0x0040A172, "ReferencedObservationUIDTrial", "U", "", ""),
    (0x0040A192, "ObservationDateTrial", "X", "C", ""),
    (0x0040A193, "ObservationTimeTrial", "X", "C", ""),
    (0x0040A307, "CurrentObserverTrial", "X", "", ""),
    (0x0040A352, "VerbalSourceTrial", "X", "", ""),
    (0x0040A353, "AddressTrial", "X", "", ""),
    (0x0040A354, "TelephoneNumberTrial", "X", "", ""),
    (0x0040A358, "VerbalSourceIdentifierCodeSequenceTrial", "X", "", ""),
    (0x0040A402, "ObservationSubjectUIDTrial", "U", "", ""),
    (0x0040A730, "ContentSequence", "D", "", ""),
    (0x0040DB06, "TemplateVersion", "X", "C", ""),
    (0x0040DB07, "TemplateLocalVersion", "X", "C", ""),
    (0x0040DB0C, "TemplateExtensionOrganizationUID", "U", "", ""),
    (0x0040DB0D, "TemplateExtensionCreatorUID", "U", "", ""),
    (0x0040E004, "HL7DocumentEffectiveTime", "X", "C", ""),
    (0x00420011, "EncapsulatedDocument", "D", "", ""),
    (0x00440004, "ApprovalStatusDateTime", "X", "C", ""),
    (0x0044000B, "ProductExpirationDateTime", "X", "C", ""),
    (0x00440010, "SubstanceAdministrationDateTime", "X", "C", ""),
    (0x00440104, "AssertionDateTime", "D", "C", ""),
    (0x00440105, "AssertionExpirationDateTime", "X", "C", ""),
    (0x0050001B, "ContainerComponentID", "X", "", ""),
    (0x00500020, "DeviceDescription", "X", "", ""),
    (0x00500021, "LongDeviceDescription", "X", "", "C"),
    (0x00620021, "TrackingUID", "U", "", ""),
    (0x00640003, "SourceFrameOfReferenceUID", "U", "", ""),
    (0x00686226, "EffectiveDateTime", "D", "C", ""),
    (0x00686270, "InformationIssueDateTime", "D", "C", ""),
    (0x006A0003, "AnnotationGroupUID", "D", "", ""),
    (0x006A0005, "AnnotationGroupLabel", "D", "", "C"),
    (0x006A0006, "AnnotationGroupDescription", "X", "", "C"),
    (0x00700001, "GraphicAnnotationSequence", "D", "", ""),
    (0x00700082, "PresentationCreationDate", "X", "C", ""),
    (0x00700083, "PresentationCreationTime", "X", "C", ""),
    (0x00700084, "ContentCreatorName", "Z/D", "", ""),
    (0x00700086, "ContentCreatorIdentificationCodeSequence", "X", "", ""),
    (0x0070031A, "FiducialUID", "U", "", ""),
    (0x00701101, "PresentationDisplayCollectionUID", "U", "", ""),
    (0x00701102, "PresentationSequenceCollectionUID", "U", "", ""),
    (0x0072000A, "HangingProtocolCreationDateTime", "D", "C", ""),
    (0x0072005E, "SelectorAEValue", "D", "", ""),
    (0x0072005F, "SelectorASValue", "D", "", ""),
    (0x00720061, "SelectorDAValue", "D", "C", ""),
    (0x00720063, "SelectorDTValue", "D", "C", ""),
    (0x00720065, "SelectorOBValue", "D", "", ""),
    (0x00720066, "SelectorLOValue", "D", "", "C"),
    (0x00720068, "SelectorLTValue", "D", "", "C"),
    (0x0072006A, "SelectorPNValue", "D", "", ""),
    (0x0072006B, "SelectorTMValue", "D", "C", ""),
    (0x0072006C, "SelectorSHValue", "D", "", "C"),
    (0x0072006D, "SelectorUNValue", "D", "", ""),
    (0x0072006E, "SelectorSTValue", "D", "", "C"),
    (0x00720070, "SelectorUTValue", "D", "", "C"),
    (0x00720071, "SelectorURValue", "D", "", ""),
    (0x00741234, "ReceivingAE", "X", "", ""),
    (0x00741236, "RequestingAE", "X", "", ""),
    (0x00880140, "StorageMediaFileSetUID", "U", "", ""),
    (0x00880200, "IconImageSequence", "X", "", ""),
    (0x00880904, "TopicTitle", "X", "", ""),
    (0x00880906, "TopicSubject", "X", "", ""),
    (0x00880910, "TopicAuthor", "X", "", ""),
    (0x00880912, "TopicKeywords", "X", "", ""),
    (0x01000420, "SOPAuthorizationDateTime", "X", "C", ""),
    (0x04000100, "DigitalSignatureUID", "U", "", ""),
    (0x04000105, "DigitalSignatureDateTime", "D", "C", ""),
    (0x04000115, "CertificateOfSigner", "D", "", ""),
    (0x04000310, "CertifiedTimestamp", "X", "C", ""),
    (0x04000402, "ReferencedDigitalSignatureSequence", "X", "", ""),
    (0x04000403, "ReferencedSOPInstanceMACSequence", "X", "", ""),
    (0x04000404, "MAC", "X", "", ""),
    (0x04000550, "ModifiedAttributesSequence", "X", "", ""),
    (0x04000551, "NonconformingModifiedAttributesSequence", "X", "", ""),
    (0x04000552, "NonconformingDataElementValue", "X", "", ""),
    (0x04000561, "OriginalAttributesSequence", "X", "", ""),
    (0x04000562, "AttributeModificationDateTime", "D", "C", ""),
    (0x04000563, "ModifyingSystem", "D", "", ""),
    (0x04000564, "SourceOfPreviousValues", "Z", "", ""),
    (0x04000565, "ReasonForTheAttributeModification", "D", "", "C"),
    (0x04000600, "InstanceOriginStatus", "X", "", ""),
    (0x20300020, "TextString", "X", "", ""),
    (0x21000040, "CreationDate", "X", "C", ""),
    (0x21000050, "CreationTime", "X", "C", ""),
    (0x21000070, "Originator", "X", "", ""),
    (0x21000140, "DestinationAE", "D", "", ""),
    (0x22000002, "LabelText", "X/Z", "", "C"),
    (0x22000005, "BarcodeValue", "X/Z", "", ""),
    (0x30020121, "PositionAcquisitionTemplateName", "X", "", "C"),
    (0x30020123, "PositionAcquisitionTemplateDescription", "X", "", "C"),
    (0x30060002, "StructureSetLabel", "D", "", "C"),
    (0x30060004, "StructureSetName", "X", "", "C"),
    (0x30060006, "StructureSetDescription", "X", "", "C"),
    (0x30060008, "StructureSetDate", "Z", "C", ""),
    (0x30060009, "StructureSetTime", "Z", "C", ""),
    (0x30060024, "ReferencedFrameOfReferenceUID", "U", "", ""),
    (0x30060026, "ROIName", "Z", "", "C"),
    (0x30060028, "ROIDescription", "X", "", "C"),
    (0x3006002D, "ROIDateTime", "X", "C", ""),
    (0x3006002E, "ROIObservationDateTime", "X", "C", ""),
    (0x30060038, "ROIGenerationDescription", "X", "", "C"),
    (0x3006004D, "ROICreatorSequence", "X", "", ""),
    (0x3006004E, "ROIInterpreterSequence", "X", "", ""),
    (0x30060085, "ROIObservationLabel", "X", "", "C"),
    (0x30060088, "ROIObservationDescription", "X", "", "C"),
    (0x300600A6, "ROIInterpreter", "Z", "", ""),
    (0x300600C2, "RelatedFrameOfReferenceUID", "U", "", ""),
    (0x30080024, "TreatmentControlPointDate", "D", "C", ""),
    (0x30080025, "TreatmentControlPointTime", "D", "C", ""),
    (0x30080054, "FirstTreatmentDate", "X/D", "C", ""),
    (0x30080056, "MostRecentTreatmentDate", "X/D", "C", ""),
    (0x30080105, "SourceSerialNumber", "X/Z", "", ""),
    (0x30080162, "SafePositionExitDate", "D", "C", ""),
    (0x30080164, "SafePositionExitTime", "D", "C", ""),
    (0x30080166, "SafePositionReturnDate", "D", "C", ""),
    (0x30080168, "SafePositionReturnTime", "D", "C", ""),
    (0x30080250, "TreatmentDate", "X/D", "C", ""),
    (0x30080251, "TreatmentTime", "X/D", "C", ""),
    (0x300A0002, "RTPlanLabel", "D", "", "C"),
    (0x300A0003, "RTPlanName", "X", "", "C"),
    (0x300A0004, "RTPlanDescription", "X", "", "C"),
    (0x300A0006, "RTPlanDate", "X/D", "C", ""),
    (0x300A0007, "RTPlanTime", "X/D", "C", ""),
    (0x300A000B, "TreatmentSites", "X", "", "C"),
    (0x300A000E, "PrescriptionDescription", "X", "", "C"),
    (0x300A0013, "DoseReferenceUID", "U", "", ""),
    (0x300A0016, "DoseReferenceDescription", "X", "", "C"),
    (0x300A0072, "FractionGroupDescription", "X", "", "C"),
    (0x300A0083, "ReferencedDoseReferenceUID", "U", "", ""),
    (0x300A00B2, "TreatmentMachineName", "X/Z", "", ""),
    (0x300A00C3, "BeamDescription", "X", "", "C"),
    (0x300A00DD, "BolusDescription", "X", "", "C"),
    (0x300A0196, "FixationDeviceDescription", "X", "", "C"),
    (0x300A01A6, "ShieldingDeviceDescription", "X", "", "C"),
    (0x300A01B2, "SetupTechniqueDescription", "X", "", "C"),
    (0x300A0216, "SourceManufacturer", "X", "", ""),
    (0x300A022C, "SourceStrengthReferenceDate", "D", "C", ""),
    (0x300A022E, "SourceStrengthReferenceTime", "D", "C", ""),
    (0x300A02EB, "CompensatorDescription", "X", "", "C"),
    (0x300A0608, "TreatmentPositionGroupLabel", "D", "", "C"),
    (0x300A0609, "TreatmentPositionGroupUID", "U", "", ""),
    (0x300A0611, "RTAccessoryHolderSlotID", "Z", "", ""),
    (0x300A0615, "RTAccessoryDeviceSlotID", "Z", "", ""),
    (0x300A0619, "RadiationDoseIdentificationLabel", "D", "", "C"),
    (0x300A0623, "RadiationDoseInVivoMeasurementLabel", "D", "", "C"),
    (0x300A062A, "RTToleranceSetLabel", "D", "", "C"),
    (0x300A0650, "PatientSetupUID", "U", "", ""),
    (0x300A0676, "EquipmentFrameOfReferenceDescription", "X", "", "C"),
    (0x300A067C, "RadiationGenerationModeLabel", "D", "", "C"),
    (0x300A067D, "RadiationGenerationModeDescription", "Z", "", "C"),
    (0x300A0700, "TreatmentSessionUID", "U", "", ""),
    (0x300A0734, "TreatmentToleranceViolationDescription", "D", "", "C"),
    (0x300A0736, "TreatmentToleranceViolationDateTime", "D", "C", ""),
    (0x300A073A, "RecordedRTControlPointDateTime", "D", "C", ""),
    (0x300A0741, "InterlockDateTime", "D", "C", ""),
    (0x300A0742, "InterlockDescription", "D", "", "C"),
    (0x300A0760, "OverrideDateTime", "D", "C", ""),
    (0x300A0783, "InterlockOriginDescription", "D", "", "C"),
    (0x300A0785, "ReferencedTreatmentPositionGroupUID", "U", "", ""),
    (0x300A078E, "PatientTreatmentPreparationProcedureParameterDescription", "X", "", "C"),
    (0x300A0792, "PatientTreatmentPreparationMethodDescription", "X", "", "C"),
    (0x300A0794, "PatientSetupPhotoDescription", "X", "", "C"),
    (0x300A079A, "DisplacementReferenceLabel", "X", "", "C"),
    (0x300C0113, "ReasonForOmissionDescription", "X", "", "C"),
    (0x300C0127, "BeamHoldTransitionDateTime", "D", "C", ""),
    (0x300E0004, "ReviewDate", "Z", "C", ""),
    (0x300E0005, "ReviewTime", "Z", "C", ""),
    (0x300E0008, "ReviewerName", "X/Z", "", ""),
    (0x30100006, "ConceptualVolumeUID", "U", "", ""),
    (0x3010000B, "ReferencedConceptualVolumeUID", "U", "", ""),
    (0x3010000F, "ConceptualVolumeCombinationDescription", "Z", "", "C"),
    (0x30100013, "ConstituentConceptualVolumeUID", "U", "", ""),
    (0x30100015, "SourceConceptualVolumeUID", "U", "", ""),
    (0x30100017, "ConceptualVolumeDescription", "Z", "", "C"),
    (0x3010001B, "DeviceAlternateIdentifier", "Z", "", ""),
    (0x3010002D, "DeviceLabel", "D", "", ""),
    (0x30100031, "ReferencedFiducialsUID", "U", "", ""),
    (0x30100033, "UserContentLabel", "D", "", "C"),
    (0x30100034, "UserContentLongLabel", "D", "", "C"),
    (0x30100035, "EntityLabel", "D", "", "C"),
    (0x30100036, "EntityName", "X", "", "C"),
    (0x30100037, "EntityDescription", "X", "", "C"),
    (0x30100038, "EntityLongLabel", "D", "", "C"),
    (0x3010003B, "RTTreatmentPhaseUID", "U", "", ""),
    (0x30100043, "ManufacturerDeviceIdentifier", "Z", "", ""),
    (0x3010004C, "IntendedPhaseStartDate", "X/D", "C", ""),
    (0x3010004D, "IntendedPhaseEndDate", "X/D", "C", ""),
    (0x30100054, "RTPrescriptionLabel", "D", "", "C"),
    (0x30100056, "RTTreatmentApproachLabel", "X/D", "", "C"),
    (0x3010005A, "RTPhysicianIntentNarrative", "Z", "", "C"),
    (0x3010005C, "ReasonForSuperseding", "Z", "", "C"),
    (0x30100061, "PriorTreatmentDoseDescription", "X", "", "C"),
    (0x3010006E, "DosimetricObjectiveUID", "U", "", ""),
    (0x3010006F, "ReferencedDosimetricObjectiveUID", "U", "", ""),
    (0x30100077, "TreatmentSite", "X/D", "", "C"),
    (0x3010007A, "TreatmentTechniqueNotes", "Z", "", "C"),
    (0x3010007B, "PrescriptionNotes", "Z", "", "C"),
    (0x3010007F, "FractionationNotes", "Z", "", "C"),
    (0x30100081, "PrescriptionNotesSequence", "Z", "", "C"),
    (0x30100085, "IntendedFractionStartTime", "X", "C", ""),
    (0x40000010, "Arbitrary", "X", "", ""),
    (0x40004000, "TextComments", "X", "", ""),
    (0x40080040, "ResultsID", "X", "", ""),
    (0x40080042, "ResultsIDIssuer", "X", "", ""),
    (0x40080100, "InterpretationRecordedDate", "X", "C", ""),
    (0x40080101, "InterpretationRecordedTime", "X", "C", ""),
    (0x40080102, "InterpretationRecorder", "X", "", ""),
    (0x40080108, "InterpretationTranscriptionDate", "X", "C", ""),
    (0x40080109, "InterpretationTranscriptionTime", "X", "C", ""),
    (0x4008010A, "InterpretationTranscriber", "X", "", ""),
    (0x4008010B, "InterpretationText", "X", "", "C"),
    (0x4008010C, "InterpretationAuthor", "X", "", ""),
    (0x40080111, "InterpretationApproverSequence", "X", "", ""),
    (0x40080112, "InterpretationApprovalDate", "X", "C", ""),
    (0x40080113, "InterpretationApprovalTime", "X", "C", ""),
    (0x40080114, "PhysicianApprovingInterpretation", "X", "", ""),
    (0x40080115, "InterpretationDiagnosisDescription", "X", "", "C"),
    (0x40080118, "ResultsDistributionListSequence", "X", "", ""),
    (0x40080119, "DistributionName", "X", "", ""),
    (0x4008011A, "DistributionAddress", "X", "", ""),
    (0x40080200, "InterpretationID", "X", "", ""),
    (0x40080202, "InterpretationIDIssuer", "X", "", ""),
    (0x40080300, "Impressions", "X", "", "C"),
    (0x40084000, "ResultsComments", "X", "", "C"),
    (0xFFFAFFFA, "DigitalSignaturesSequence", "X", "", ""),
    (0xFFFCFFFC, "DataSetTrailingPadding", "X", "", ""),
)

TABLE_E1_1: dict[int, ProfileRow] = {row[0]: ProfileRow(*row) for row in _ROWS}

# The four rows of Table E.1-1 that name a group of tags rather than one; all are X.
# Curves and overlays are removed whole (every element of groups 50xx and 60xx), not only
# their data and comments, so that no overlay plane is left describing data that is gone.
GROUP_ROWS: tuple[tuple[str, str, str], ...] = (
    ("(50xx,xxxx)", "Curve Data", "X"),
    ("(60xx,3000)", "Overlay Data", "X"),
    ("(60xx,4000)", "Overlay Comments", "X"),
    ("(gggg,eeee) where gggg is odd", "Private Attributes", "X"),
)

# Why an image is left out of an export (shown to the ML admin and kept in the audit log).
BURNED_IN = "burned-in annotation"
BURNED_IN_UNKNOWN = "burned-in annotation not stated (modality that often burns in text)"

# Modalities whose images often carry burned-in text (patient names on ultrasound screens,
# screen captures, fluoroscopy overlays, endoscopy captions, "other"), and the Secondary
# Capture SOP Classes (by pydicom keyword): without Burned In Annotation (0028,0301) = NO
# they are left out.
BURN_IN_MODALITIES = frozenset({"US", "SC", "XA", "ES", "OT"})
SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "SecondaryCaptureImageStorage",
        "MultiFrameSingleBitSecondaryCaptureImageStorage",
        "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
        "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
        "MultiFrameTrueColorSecondaryCaptureImageStorage",
    }
)

# IODs (SOP Class keywords) with the Multi-frame Functional Groups and Enhanced General
# Equipment modules, where
# Content Date/Time, Device Serial Number and (for original images) Acquisition DateTime
# are Type 1 (PS3.3 C.7.6.16, C.7.5.2, C.8.13.1, C.8.15.2).
_ENHANCED_CLASSES = frozenset(
    {
        "EnhancedCTImageStorage",
        "EnhancedMRImageStorage",
        "EnhancedMRColorImageStorage",
        "EnhancedPETImageStorage",
        "EnhancedUSVolumeStorage",
        "EnhancedXAImageStorage",
        "EnhancedXRFImageStorage",
        "LegacyConvertedEnhancedCTImageStorage",
        "LegacyConvertedEnhancedMRImageStorage",
        "LegacyConvertedEnhancedPETImageStorage",
    }
)
_DX_CLASSES = frozenset(
    {"DigitalXRayImageStorageForPresentation", "DigitalXRayImageStorageForProcessing"}
)

# Dummy values (action D) by VR. UIDs get a replacement UID instead, sequences dummy items.
_DUMMY_TEXT = "ANONYMIZED"
_DUMMY: dict[str, Any] = {
    "AE": "ANONYMOUS",
    "AS": "000Y",
    "CS": _DUMMY_TEXT,
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": _DUMMY_TEXT,
    "LT": _DUMMY_TEXT,
    "PN": _DUMMY_TEXT,
    "SH": _DUMMY_TEXT,
    "ST": _DUMMY_TEXT,
    "TM": "000000",
    "UC": _DUMMY_TEXT,
    "UR": "http://anonymized.invalid/",
    "UT": _DUMMY_TEXT,
    "OB": b"\0\0",
    "OW": b"\0\0",
    "OD": bytes(8),
    "OF": bytes(4),
    "OL": bytes(4),
    "OV": bytes(8),
    "UN": b"\0\0",
    "AT": 0,
    "FD": 0.0,
    "FL": 0.0,
    "SL": 0,
    "SS": 0,
    "SV": 0,
    "UL": 0,
    "US": 0,
    "UV": 0,
}

# Dates under the Modified Dates option move back by 1 to 10 years, one offset per patient.
_OFFSET_MIN_DAYS = 365
_OFFSET_MAX_DAYS = 3650
_DT_REST = re.compile(r"\d{0,6}(\.\d{1,6})?([+-]\d{4})?")

_OPTION_CODES = {
    "basic": codes.DCM.BasicApplicationConfidentialityProfile,
    "modified_dates": codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption,
    "clean_descriptors": codes.DCM.CleanDescriptorsOption,
}


@dataclass(frozen=True)
class DeidOptions:
    """The Basic Profile options an export asked for.

    ``descriptor_allowlist``: with Clean Descriptors, a descriptor (Study Description and
    the other rows marked C in that column) is kept only when its text, upper-cased with
    runs of spaces collapsed, is in this set; anything else gets the Basic Profile action.
    Free text cannot be cleaned reliably, so nothing is rewritten.
    """

    modified_dates: bool = False
    clean_descriptors: bool = False
    descriptor_allowlist: frozenset[str] = field(default_factory=frozenset)


def descriptor_normalized(value: object) -> str:
    """A descriptor as the allow-list compares it: upper case, single spaces."""
    return " ".join(str(value).split()).upper()


def resolve_basic(action: str, required_type: int) -> str:
    """The one Basic Profile action for a combined code, given the attribute's Type (1, 2, 3).

    PS3.15 E.1.1: X/Z, X/D, X/Z/D, Z/D and X/Z/U* mean the first action unless a later one
    is needed to keep the IOD conformant (Type 2 needs a value, even empty; Type 1 a
    non-empty one). X/Z/U* resolves to "U*": keep the sequence, replace the UIDs inside.
    """
    choices = action.split("/")
    if len(choices) == 1 or required_type >= 3:
        return choices[0]
    if required_type == 2 and "Z" in choices:
        return "Z"
    return choices[-1]


def required_type(keyword: str, ds: Dataset) -> int:
    """The Type the dataset's IOD gives ``keyword`` in its top level, as far as known here.

    Known: the attributes with a combined action that the image IODs this project stores
    require. Anything else counts as Type 3, so the combined action resolves to its first,
    most private choice; conditional Types count as required, which never keeps an original
    value either (Z and D replace it).
    """
    sop_class = _sop_class_keyword(ds)
    enhanced = sop_class in _ENHANCED_CLASSES or "SharedFunctionalGroupsSequence" in ds
    if keyword in {"ContentDate", "ContentTime"}:
        # Type 1 in the Multi-frame Functional Groups module, 2C in General Image.
        return 1 if enhanced else 2
    if keyword in {"AcquisitionDateTime", "DeviceSerialNumber"}:
        return 1 if enhanced else 3
    if keyword == "ReferencedPerformedProcedureStepSequence":
        # Type 1C in the DX Series module (when MPPS was used, as its presence says).
        return 1 if sop_class in _DX_CLASSES else 3
    if keyword == "PatientSexNeutered":
        # Type 2C in the Patient module: required for animals.
        animal = "PatientSpeciesDescription" in ds or "PatientSpeciesCodeSequence" in ds
        return 2 if animal else 3
    return 3


class Deidentifier:
    """De-identify the datasets of one export (not thread-safe; one per export).

    UIDs: each original UID is replaced by a fresh random UUID-derived UID
    (``2.25.<uuid4>``), remembered for the life of this object, so references between the
    exported files stay consistent and two exports share nothing.
    Dates (Modified Dates option): one random offset per ``patient_key``, kept only here.
    """

    def __init__(self, options: DeidOptions | None = None) -> None:
        self.options = options or DeidOptions()
        self._uids: dict[str, str] = {}
        self._offsets: dict[str, int] = {}

    def uid(self, original: str) -> str:
        """The replacement of ``original`` in this export (empty stays empty).

        Well-known UIDs of the standard (SOP Classes, Transfer Syntaxes, coding schemes)
        identify nobody and are kept, so a dummy sequence item still names its SOP Class.
        """
        original = str(original).strip()
        if not original or UID(original).keyword:
            return original
        if original not in self._uids:
            self._uids[original] = generate_uid(prefix=None)
        return self._uids[original]

    def date_offset_days(self, patient_key: str) -> int:
        """This export's date shift for one patient, in days (negative: earlier)."""
        if patient_key not in self._offsets:
            span = _OFFSET_MAX_DAYS - _OFFSET_MIN_DAYS + 1
            self._offsets[patient_key] = -(_OFFSET_MIN_DAYS + secrets.randbelow(span))
        return self._offsets[patient_key]

    def action_for(self, row: ProfileRow, ds: Dataset, *, top_level: bool = True) -> str:
        """What happens to ``row``'s attribute in ``ds``: X, Z, D, U, U*, or an option's C.

        An option, when chosen, overrides the Basic Profile (PS3.15 E.1.1); its cleaning is
        "C:dates" or "C:descriptors". Inside sequence items the IOD Types of the top level
        do not apply, so combined actions take their first choice there.
        """
        if self.options.modified_dates and row.modified_dates == "C":
            return "C:dates"
        if self.options.clean_descriptors and row.clean_descriptors == "C":
            return "C:descriptors"
        level = required_type(row.keyword, ds) if top_level else 3
        return resolve_basic(row.basic, level)

    def deidentify(self, ds: Dataset, *, patient_key: str | None = None) -> Dataset:
        """A de-identified copy of ``ds`` with new File Meta Information; ``ds`` is unchanged.

        ``patient_key`` picks the date offset (default: the dataset's Patient ID); pass a
        stable internal key so that all of one patient's images move by the same days.
        Pixel Data is copied byte for byte: burned-in text is not removed (see
        :func:`burned_in_reason`).
        """
        key = patient_key if patient_key is not None else str(ds.get("PatientID", ""))
        out = Dataset()
        for elem in ds:
            if elem.tag.group != 0x0002:  # File Meta belongs in file_meta, rebuilt below
                out.add(copy.deepcopy(elem))
        out.remove_private_tags()
        self._clean(out, offset=self.date_offset_days(key), top_level=True)
        self._mark(out)
        out.file_meta = self._file_meta(ds, out)
        out.preamble = b"\0" * 128  # the original preamble may hold anything (PS3.15 E.1.1)
        return out

    # -- the walk ---------------------------------------------------------------------------

    def _clean(self, ds: Dataset, *, offset: int, top_level: bool) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag.group & 0xFF01 in (0x5000, 0x6000):  # curves and overlays, even groups
                del ds[tag]
                continue
            row = TABLE_E1_1.get(int(tag))
            if row is None:
                # Not in the table: kept, but its items are de-identified too (E.1.1).
                if elem.VR == "SQ":
                    self._clean_items(elem.value, offset=offset)
                continue
            action = self.action_for(row, ds, top_level=top_level)
            self._apply(ds, elem, action, row=row, offset=offset, top_level=top_level)

    def _clean_items(self, items: Iterable[Dataset], *, offset: int) -> None:
        for item in items:
            self._clean(item, offset=offset, top_level=False)

    def _apply(
        self,
        ds: Dataset,
        elem: DataElement,
        action: str,
        *,
        row: ProfileRow,
        offset: int,
        top_level: bool,
    ) -> None:
        if action.startswith("C:"):
            if self._cleaned(elem, action, offset=offset):
                return
            # Nothing safe to keep: the Basic Profile action applies after all.
            level = required_type(row.keyword, ds) if top_level else 3
            action = resolve_basic(row.basic, level)
        if action == "X":
            del ds[elem.tag]
        elif action == "Z":
            elem.value = [] if elem.VR == "SQ" else None
        elif action == "D":
            if elem.VR == "SQ":
                for item in elem.value:
                    self._dummy_item(item)
            else:
                elem.value = self._dummy(elem)
        elif action in {"U", "U*"}:
            if elem.VR == "SQ":
                self._clean_items(elem.value, offset=offset)
            else:
                elem.value = self._uids_of(elem.value)
        else:  # pragma: no cover - the table holds no other code
            raise ValueError(f"Unknown Table E.1-1 action {action!r} for {row.keyword}.")

    def _cleaned(self, elem: DataElement, action: str, *, offset: int) -> bool:
        """Clean ``elem`` for an option ("C:dates" or "C:descriptors"); False if it cannot be."""
        if action == "C:dates":
            shifted = _shifted(elem, offset)
            if shifted is _UNSHIFTABLE:
                return False
            elem.value = shifted
            return True
        return elem.VR != "SQ" and self._allowed(elem.value)

    def _allowed(self, value: Any) -> bool:
        values = list(value) if isinstance(value, MultiValue) else [value]
        allow = self.options.descriptor_allowlist
        texts = [descriptor_normalized(v) for v in values if v not in (None, "")]
        return bool(texts) and all(text in allow for text in texts)

    def _uids_of(self, value: Any) -> Any:
        if isinstance(value, MultiValue | list):
            return [self.uid(v) for v in value]
        return self.uid(value) if value else value

    def _dummy(self, elem: DataElement) -> Any:
        if elem.VR == "UI":
            return self._uids_of(elem.value) or generate_uid(prefix=None)
        return _DUMMY.get(elem.VR.split(" ")[0], b"\0\0" if elem.VR.startswith("O") else "0")

    def _dummy_item(self, item: Dataset) -> None:
        """Replace every value in a sequence item by a dummy: D on a sequence (E.1.1)."""
        for elem in list(item):
            if elem.tag.is_private:
                del item[elem.tag]
            elif elem.VR == "SQ":
                for sub in elem.value:
                    self._dummy_item(sub)
            elif not elem.is_empty:
                elem.value = self._dummy(elem)

    def _mark(self, ds: Dataset) -> None:
        """Patient Identity Removed, the method and its codes (PS3.15 E.1.1 step 6)."""
        chosen = ["basic"]
        if self.options.modified_dates:
            chosen.append("modified_dates")
        if self.options.clean_descriptors:
            chosen.append("clean_descriptors")
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = [_OPTION_CODES[name].meaning for name in chosen]
        items = []
        for name in chosen:
            code = _OPTION_CODES[name]
            item = Dataset()
            item.CodeValue = code.value
            item.CodingSchemeDesignator = code.scheme_designator
            item.CodeMeaning = code.meaning
            items.append(item)
        ds.DeidentificationMethodCodeSequence = items
        ds.LongitudinalTemporalInformationModified = (
            "MODIFIED" if self.options.modified_dates else "REMOVED"
        )

    def _file_meta(self, original: Dataset, ds: Dataset) -> FileMetaDataset:
        """New File Meta Information describing this de-identifier (E.1.1 step 7)."""
        old = getattr(original, "file_meta", None) or FileMetaDataset()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.get("SOPClassUID", old.get("MediaStorageSOPClassUID", ""))
        meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or self.uid(
            old.get("MediaStorageSOPInstanceUID", "")
        )
        meta.TransferSyntaxUID = old.get("TransferSyntaxUID", pydicom.uid.ExplicitVRLittleEndian)
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = "MEDASSIST_DEID"
        return meta


class _Unshiftable:
    pass


_UNSHIFTABLE = _Unshiftable()


def _shifted(elem: DataElement, days: int) -> Any:
    """``elem``'s value with its dates moved by ``days``, or _UNSHIFTABLE.

    DA and DT move; TM is kept (a whole-day shift leaves the time of day); any other VR, a
    partial date or a range cannot be shifted safely and falls back to the Basic Profile.
    """
    if elem.VR == "TM":
        return elem.value
    if elem.VR not in {"DA", "DT"}:
        return _UNSHIFTABLE
    multi = isinstance(elem.value, MultiValue)
    out = []
    for value in elem.value if multi else [elem.value]:
        text = str(value or "").strip()
        if not text:
            out.append(text)
            continue
        rest = text[8:]
        if len(text) < 8 or not text[:8].isdigit():
            return _UNSHIFTABLE
        if (elem.VR == "DA" and rest) or (elem.VR == "DT" and not _DT_REST.fullmatch(rest)):
            return _UNSHIFTABLE
        try:
            day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            moved = day + dt.timedelta(days=days)
        except (ValueError, OverflowError):
            return _UNSHIFTABLE
        out.append(f"{moved:%Y%m%d}{rest}")
    return out if multi else out[0]


def _sop_class_keyword(ds: Dataset) -> str:
    """pydicom's keyword of the dataset's SOP Class ("" for an unknown or private one)."""
    return UID(str(ds.get("SOPClassUID", "") or "").strip()).keyword


def burned_in_reason(ds: Dataset) -> str | None:
    """Why ``ds`` must stay out of an export for text in its pixels, or None.

    Burned In Annotation (0028,0301) YES: left out. NO: fine. Absent or anything else:
    left out when the modality often burns text in (US, SC, XA, ES, OT) or it is a
    Secondary Capture, since the profile cannot clean pixels (Clean Pixel Data Option).
    """
    stated = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if stated == "YES":
        return BURNED_IN
    if stated == "NO":
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in BURN_IN_MODALITIES or _sop_class_keyword(ds) in SECONDARY_CAPTURE_CLASSES:
        return BURNED_IN_UNKNOWN
    return None


def instance_header(*, instance: Instance) -> Dataset:
    """The stored file's attributes without its pixels: enough for :func:`burned_in_reason`.

    Not checked against the SHA-256 (that needs the whole file); the export reads the
    verified file with :func:`imaging.selectors.instance_read_dataset` before writing it.
    Raises OSError or pydicom's InvalidDicomError when the file is gone or unreadable.
    """
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    return pydicom.dcmread(path, stop_before_pixels=True)


def dataset_file_bytes(ds: Dataset) -> bytes:
    """A de-identified dataset as a DICOM Part 10 file."""
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()
