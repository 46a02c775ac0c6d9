import type { ProfileOption } from './profile-types.ts';

/** A coded concept (PS3.3 Code Sequence Macro, Table 8.8-1). */
export interface Code { CodeValue: string; CodingSchemeDesignator: 'DCM'; CodeMeaning: string }

const dcm = (CodeValue: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator: 'DCM', CodeMeaning });

/** CID 7050 De-identification Method (PS3.16), PS3.15 Table E.1-1a. */
export const BASIC_PROFILE_CODE = dcm('113100', 'Basic Application Confidentiality Profile');
export const OPTION_CODES: Record<ProfileOption, Code> = {
  'clean-pixel-data': dcm('113101', 'Clean Pixel Data Option'),
  'clean-recognizable-visual-features': dcm('113102', 'Clean Recognizable Visual Features Option'),
  'clean-graphics': dcm('113103', 'Clean Graphics Option'),
  'clean-structured-content': dcm('113104', 'Clean Structured Content Option'),
  'clean-descriptors': dcm('113105', 'Clean Descriptors Option'),
  'retain-longitudinal-full-dates': dcm('113106', 'Retain Longitudinal Temporal Information Full Dates Option'),
  'retain-longitudinal-modified-dates': dcm('113107', 'Retain Longitudinal Temporal Information Modified Dates Option'),
  'retain-patient-characteristics': dcm('113108', 'Retain Patient Characteristics Option'),
  'retain-device-identity': dcm('113109', 'Retain Device Identity Option'),
  'retain-uids': dcm('113110', 'Retain UIDs Option'),
  'retain-safe-private': dcm('113111', 'Retain Safe Private Option'),
  'retain-institution-identity': dcm('113112', 'Retain Institution Identity Option'),
};
