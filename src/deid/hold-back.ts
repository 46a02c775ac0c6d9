import type { HoldReasonCode } from '../errors.ts';
import type { Profile } from './profile.ts';

/**
 * Instances that must not be released by header de-identification alone (PS3.15 E.3.2, E.3.3):
 * burned-in text, kinds of objects known to carry it, free-form documents, and — with Clean
 * Recognizable Visual Features — head and neck volumes not defaced as a series. Deny by default.
 */
export type { HoldReasonCode };

export interface HoldBack { code: HoldReasonCode; message: string }

export interface HoldBackFacts {
  burnedInAnnotation: string;
  modality: string;
  sopClassUID: string;
  bodyPart: string;
  /** Study/Series Description and Protocol Name, upper-cased, for body region hints. */
  descriptions: string;
}

/** SOP classes whose pixels are screen captures, photographs or ultrasound: text in pixels is the norm. */
const RISKY_SOP_CLASSES = [
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture family (PS3.4 B.5), and .7.x multi-frame SC
  '1.2.840.10008.5.1.4.1.1.6', // Ultrasound (retired) and .6.x
  '1.2.840.10008.5.1.4.1.1.3', // Ultrasound Multi-frame (retired) and .3.1
  '1.2.840.10008.5.1.4.1.1.77.1', // VL (endoscopy, microscopy, photography), .77.1.x
];
const isOrUnder = (uid: string, root: string): boolean => uid === root || uid.startsWith(root + '.');
const DOCUMENT_SOP_CLASS_PREFIX = '1.2.840.10008.5.1.4.1.1.104.'; // Encapsulated PDF, CDA, STL, OBJ, MTL
const RISKY_MODALITIES = new Set(['US', 'IVUS', 'XC', 'ES', 'GM', 'SM', 'DOC', 'OT', 'SC']);
const HEAD_NECK = /\b(HEAD|BRAIN|SKULL|NECK|HEADNECK|FACE|ORBIT|SINUS|TMJ|IAC|PITUITARY|NEURO|CRANI\w*|MAXILLOFACIAL|DENTAL|CEREBR\w*)\b/;

/** What was already done to the instance's pixels: text cleaned (E.3.2), the series defaced or found faceless (E.3.3). */
export interface Handled { text: boolean; visualFeatures: boolean }

/** Whether a body part and descriptions name the head or neck (upper-cased text). */
export const namesHeadOrNeck = (region: string): boolean => HEAD_NECK.test(region.toUpperCase());

export function holdBackReason(f: HoldBackFacts, profile: Profile, handled: Handled = { text: false, visualFeatures: false }): HoldBack | undefined {
  const pixelsPending = profile.options.has('clean-pixel-data') ? '' : ' (request the clean-pixel-data option to clean and release it)';
  if (f.sopClassUID.startsWith(DOCUMENT_SOP_CLASS_PREFIX)) {
    return { code: 'ENCAPSULATED_DOCUMENT', message: 'encapsulated document: its content cannot be de-identified by header rules' };
  }
  if (f.burnedInAnnotation.toUpperCase() === 'YES' && !handled.text) {
    return { code: 'BURNED_IN_ANNOTATION', message: `Burned In Annotation is YES${pixelsPending}` };
  }
  if (!handled.text && (RISKY_SOP_CLASSES.some((p) => isOrUnder(f.sopClassUID, p)) || RISKY_MODALITIES.has(f.modality.toUpperCase()))) {
    return { code: 'BURNED_IN_RISK', message: `modality ${f.modality || '(none)'} / this SOP class usually carries burned-in text${pixelsPending}` };
  }
  if (profile.options.has('clean-recognizable-visual-features') && !handled.visualFeatures && ['CT', 'MR', 'PT'].includes(f.modality.toUpperCase())) {
    // CT and MR series are defaced as a whole (pipeline/deface-series.ts); an instance that reaches
    // this point was not part of that (PET, or a caller without the series).
    const how = f.modality.toUpperCase() === 'PT' ? 'defacing covers CT and MR, not PET' : 'defacing needs the whole series';
    if (HEAD_NECK.test(`${f.bodyPart.toUpperCase()} ${f.descriptions}`)) return { code: 'RECOGNIZABLE_FEATURES', message: `head or neck volume: ${how}` };
    if (f.bodyPart.trim() === '') return { code: 'RECOGNIZABLE_FEATURES', message: `body part unknown, so the volume may show the face: ${how}` };
  }
  return undefined;
}
