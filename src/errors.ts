/**
 * The one register of the codes Custos emits. Errors carry a stable `code`; tests and callers
 * branch on the code, never the message. Every code below is documented in docs/errors.md, and
 * test/error-register.test.ts checks both ways (and that no code is emitted outside this file).
 * Messages never contain PHI: they name tags, offsets and file paths the user supplied, not values.
 */
export type CustosErrorCode =
  // DICOM input
  | 'DICOM_NOT_DICOM'
  | 'DICOM_TRUNCATED'
  | 'DICOM_BAD_VR'
  | 'DICOM_BAD_LENGTH'
  | 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX'
  | 'DICOM_MISSING_ATTRIBUTE'
  | 'DICOM_INFLATE_LIMIT'
  | 'DICOM_PIXEL_LENGTH'
  | 'DICOM_PIXEL_ENCODING'
  | 'DICOM_BAD_VALUE'
  | 'DICOM_DUPLICATE_ELEMENT'
  | 'OUTPUT_CONFLICT'
  // de-identification
  | 'DEID_BAD_OPTION'
  | 'DEID_KEY_INVALID'
  // integrity log
  | 'LOG_BAD_PROOF_REQUEST'
  | 'LOG_PROOF_INVALID'
  | 'LOG_ROOT_MISMATCH'
  | 'LOG_CORRUPT'
  | 'LOG_ROLLBACK'
  | 'LOG_BUSY'
  | 'LOG_UNAVAILABLE'
  | 'SWEEP_SOURCE_FAILED'
  | 'WITNESS_BAD_REQUEST'
  | 'WITNESS_UNKNOWN_LOG'
  | 'WITNESS_INCONSISTENT'
  | 'WITNESS_SPLIT_VIEW'
  | 'WITNESS_UNREACHABLE'
  | 'WITNESS_QUORUM'
  | 'DICOM_SIGNATURE_UNSUPPORTED'
  | 'NOTE_MALFORMED'
  | 'NOTE_UNVERIFIED'
  | 'KEY_INVALID'
  | 'PIXEL_DECODE'
  // gateway storage
  | 'STORE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'STORE_MISSING'
  | 'STORE_BAD_KEY'
  | 'PATIENT_SHREDDED'
  // gateway network and forwarding
  | 'DIMSE_REJECTED'
  | 'DIMSE_FAILED'
  | 'DIMSE_PROTOCOL'
  | 'STOW_FAILED'
  | 'RECIPIENT_UNKNOWN'
  | 'WRITER_STOPPED'
  | 'FORWARD_UNSUPPORTED_SYNTAX'
  | 'INGEST_MISMATCH'
  | 'SOP_CLASS_NOT_SUPPORTED'
  | 'MULTIPART_TOO_MANY_PARTS'
  | 'HTTP_TOO_SLOW'
  | 'HTTP_BODY_TOO_LARGE'
  | 'MULTIPART_MALFORMED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_ACCEPTABLE'
  | 'BAD_UID'
  | 'JOB_NOT_FINISHED'
  | 'RATE_LIMITED'
  | 'INTERNAL'
  | 'API_INVALID_REQUEST'
  | 'POLICY_INVALID'
  | 'DIMSE_LIBRARY_CHANGED'
  | 'RETENTION_PURGED'
  | 'NOT_FOUND'
  // access control (docs/security.md)
  | 'AUTH_REQUIRED'
  | 'AUTH_FORBIDDEN'
  | 'AUTH_CSRF'
  | 'AUTH_HOST'
  | 'AUTH_BAD_CREDENTIALS'
  | 'AUTH_OIDC'
  | 'AUTH_ROUTE_UNDECLARED'
  | 'AUTH_INVALID_REQUEST'
  | 'STORE_IN_USE'
  // CLI / configuration
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'IO';

/** Why an instance is held back instead of written (deid/hold-back.ts, pipeline/clean-pixels.ts). */
export type HoldReasonCode =
  | 'BURNED_IN_ANNOTATION'
  | 'BURNED_IN_RISK'
  | 'ENCAPSULATED_DOCUMENT'
  | 'RECOGNIZABLE_FEATURES'
  | 'VOLUME_GEOMETRY'
  | 'DEFACE_UNCERTAIN'
  | 'SERIES_ARRIVING'
  | 'PIXEL_TEXT_UNCERTAIN'
  | 'PIXEL_TEXT_REMAINS';

/** Why a release is withheld: the reasons of a deny decision (policy/decision.ts). */
export type WithholdReasonCode =
  | 'PURPOSE_UNKNOWN'
  | 'SITE_POLICY_MISSING'
  | 'CONSENT_DENIED'
  | 'CONSENT_REQUIRED'
  | 'RECIPIENT_NOT_VETTED'
  | 'RECIPIENT_NOT_APPROVED'
  | 'AGREEMENT_NONE_VALID'
  | 'AGREEMENT_PURPOSE'
  | 'AGREEMENT_MODALITY'
  | 'AGREEMENT_BODY_PART'
  | 'DEID_WEAKER_THAN_AGREEMENT'
  | 'REIDENTIFICATION_RISK';

/** What verifying the audit trail finds (audit/seal.ts). */
export type AuditFindingCode = 'AUDIT_CHANGED' | 'AUDIT_SEAL_MISSING' | 'AUDIT_SEAL_FORGED' | 'AUDIT_INSERTED';

/** Repairs a reader may make (PS3.5), recorded with the instance (dicom/read.ts). */
export type ReadWarningCode = 'DICOM_ELEMENTS_OUT_OF_ORDER' | 'DICOM_UN_RELABELLED';

/** Every code Custos emits. */
export type Code = CustosErrorCode | HoldReasonCode | WithholdReasonCode | AuditFindingCode | ReadWarningCode;

export class CustosError extends Error {
  readonly code: CustosErrorCode;
  constructor(code: CustosErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CustosError';
    this.code = code;
  }
}

export function isCustosError(e: unknown): e is CustosError {
  return e instanceof CustosError;
}
