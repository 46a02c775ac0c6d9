/** A DICOM tag as one unsigned 32-bit number: group << 16 | element (PS3.5 7.1). */
export type Tag = number;

export const tag = (group: number, element: number): Tag => ((group << 16) | element) >>> 0;
export const groupOf = (t: Tag): number => t >>> 16;
export const elementOf = (t: Tag): number => t & 0xffff;
/** Odd groups are private (PS3.5 7.8); 0001-0007 are illegal there and treated as private too, so they are removed. */
export const isPrivate = (t: Tag): boolean => (groupOf(t) & 1) === 1;
/** Private Creator Data Elements (gggg,0010-00FF), PS3.5 7.8.1. */
export const isPrivateCreator = (t: Tag): boolean => isPrivate(t) && elementOf(t) >= 0x10 && elementOf(t) <= 0xff;
/** For a private data element (gggg,xxyy) the creator that reserves its block: (gggg,00xx). */
export const privateCreatorTagOf = (t: Tag): Tag => tag(groupOf(t), elementOf(t) >>> 8);

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');
/** "(0010,0010)" — the form used by the standard's tables and by dcmjs's dictionary. */
export const formatTag = (t: Tag): string => `(${hex4(groupOf(t))},${hex4(elementOf(t))})`;

export const Tags = {
  FileMetaInformationGroupLength: tag(0x0002, 0x0000),
  FileMetaInformationVersion: tag(0x0002, 0x0001),
  MediaStorageSOPClassUID: tag(0x0002, 0x0002),
  MediaStorageSOPInstanceUID: tag(0x0002, 0x0003),
  TransferSyntaxUID: tag(0x0002, 0x0010),
  ImplementationClassUID: tag(0x0002, 0x0012),
  ImplementationVersionName: tag(0x0002, 0x0013),
  SpecificCharacterSet: tag(0x0008, 0x0005),
  ImageType: tag(0x0008, 0x0008),
  SOPClassUID: tag(0x0008, 0x0016),
  SOPInstanceUID: tag(0x0008, 0x0018),
  StudyDate: tag(0x0008, 0x0020),
  SeriesDate: tag(0x0008, 0x0021),
  AcquisitionDate: tag(0x0008, 0x0022),
  ContentDate: tag(0x0008, 0x0023),
  AccessionNumber: tag(0x0008, 0x0050),
  Modality: tag(0x0008, 0x0060),
  InstitutionName: tag(0x0008, 0x0080),
  InstitutionAddress: tag(0x0008, 0x0081),
  ReferringPhysicianName: tag(0x0008, 0x0090),
  ReferringPhysicianAddress: tag(0x0008, 0x0092),
  ReferringPhysicianTelephoneNumbers: tag(0x0008, 0x0094),
  StationName: tag(0x0008, 0x1010),
  StudyDescription: tag(0x0008, 0x1030),
  SeriesDescription: tag(0x0008, 0x103e),
  InstitutionalDepartmentName: tag(0x0008, 0x1040),
  PhysiciansOfRecord: tag(0x0008, 0x1048),
  PerformingPhysicianName: tag(0x0008, 0x1050),
  NameOfPhysiciansReadingStudy: tag(0x0008, 0x1060),
  OperatorsName: tag(0x0008, 0x1070),
  PatientName: tag(0x0010, 0x0010),
  PatientID: tag(0x0010, 0x0020),
  IssuerOfPatientID: tag(0x0010, 0x0021),
  PatientBirthDate: tag(0x0010, 0x0030),
  OtherPatientIDs: tag(0x0010, 0x1000),
  OtherPatientNames: tag(0x0010, 0x1001),
  PatientBirthName: tag(0x0010, 0x1005),
  PatientAddress: tag(0x0010, 0x1040),
  PatientMotherBirthName: tag(0x0010, 0x1060),
  PatientTelephoneNumbers: tag(0x0010, 0x2154),
  PatientIdentityRemoved: tag(0x0012, 0x0062),
  DeidentificationMethod: tag(0x0012, 0x0063),
  DeidentificationMethodCodeSequence: tag(0x0012, 0x0064),
  BodyPartExamined: tag(0x0018, 0x0015),
  ProtocolName: tag(0x0018, 0x1030),
  StudyInstanceUID: tag(0x0020, 0x000d),
  SeriesInstanceUID: tag(0x0020, 0x000e),
  StudyID: tag(0x0020, 0x0010),
  BurnedInAnnotation: tag(0x0028, 0x0301),
  LongitudinalTemporalInformationModified: tag(0x0028, 0x0303),
  CodeValue: tag(0x0008, 0x0100),
  CodingSchemeDesignator: tag(0x0008, 0x0102),
  CodeMeaning: tag(0x0008, 0x0104),
  PixelData: tag(0x7fe0, 0x0010),
  Item: tag(0xfffe, 0xe000),
  ItemDelimitationItem: tag(0xfffe, 0xe00d),
  SequenceDelimitationItem: tag(0xfffe, 0xe0dd),
} as const;
