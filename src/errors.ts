/**
 * Custos errors carry a stable `code`; tests and callers branch on the code, never the message.
 * Every code is documented in docs/errors.md with how to resolve it.
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
  | 'DICOM_BAD_CHARSET'
  | 'DICOM_INFLATE_LIMIT'
  | 'DICOM_PIXEL_LENGTH'
  | 'DICOM_PIXEL_ENCODING'
  | 'DICOM_BAD_VALUE'
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
  | 'STOW_FAILED'
  | 'FORWARD_UNSUPPORTED_SYNTAX'
  | 'INGEST_MISMATCH'
  | 'MULTIPART_TOO_MANY_PARTS'
  | 'HTTP_TOO_SLOW'
  | 'HTTP_BODY_TOO_LARGE'
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
