import { join } from 'node:path';

/** Where a data directory keeps its own DICOM signing key and certificate (self-signed at first use). */
export const signingPathsOf = (dataDir: string): { keyFile: string; certFile: string } => ({
  keyFile: join(dataDir, 'keys', 'dicom-signing-key.pem'),
  certFile: join(dataDir, 'keys', 'dicom-signing-cert.pem'),
});
