import 'reflect-metadata'; // @peculiar/x509 (through tsyringe) needs it loaded first
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { CustosError } from '../errors.ts';
import type { SigningIdentity } from '../integrity/dicom-signature.ts';
import { createWhole } from './key-file.ts';
import { signingPathsOf } from './signing-paths.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);


/**
 * The key and certificate Custos signs DICOM instances with (PS3.15 C.1, Base RSA): the hospital's,
 * from the files configured, or else a self-signed RSA-2048 pair made at first use under the data
 * directory's keys/ (X.509 through @peculiar/x509; verifiers then trust that certificate itself).
 */
export async function loadOrCreateSigningIdentity(dataDir: string, configured?: { keyFile: string; certFile: string }): Promise<SigningIdentity & { certificatePem: string; created: boolean }> {
  const paths = configured ?? signingPathsOf(dataDir);
  let created = false;
  if (!configured && !existsSync(paths.certFile)) {
    mkdirSync(dirname(paths.keyFile), { recursive: true, mode: 0o700 });
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
    const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as CryptoKeyPair;
    const now = new Date();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
      name: `CN=Custos DICOM signing (${hostname().replace(/[,=+<>#;"\\]/g, '-')}), O=Custos`,
      notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 3 * 365 * 86_400_000), // a day back: clocks differ
      signingAlgorithm: alg, keys,
      extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true), new x509.BasicConstraintsExtension(false, undefined, true)],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
    try {
      createWhole(paths.keyFile, keyPem);
      createWhole(paths.certFile, cert.toString('pem') + '\n');
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first: use theirs
    }
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(readFileSync(paths.certFile));
  } catch (e) {
    throw new CustosError('KEY_INVALID', `the DICOM signing certificate ${paths.certFile} cannot be read: ${(e as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(readFileSync(paths.keyFile));
  } catch (e) {
    throw new CustosError('KEY_INVALID', `the DICOM signing key ${paths.keyFile} cannot be read: ${(e as Error).message}`);
  }
  if (!certificate.checkPrivateKey(key)) throw new CustosError('KEY_INVALID', `the DICOM signing key ${paths.keyFile} does not match the certificate ${paths.certFile}`);
  return { key, certificate: certificate.raw, certificatePem: certificate.toString(), created };
}
