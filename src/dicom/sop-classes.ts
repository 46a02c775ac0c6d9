/**
 * Which SOP classes the gateway stores. Standard storage classes are recognised by UID (PS3.4 B.5
 * lists them and the list grows every edition): everything under the storage roots. A SOP class
 * outside the DICOM root (1.2.840.10008) may be a vendor's private storage class — or a private
 * query, print or workflow service, or no class at all — so it is stored only when configured
 * (`ingest.privateSopClasses`): deny by default. Query/retrieve, worklist and print are refused.
 */
export function isStorageSopClass(uid: string, privateAccepted: ReadonlySet<string> = NONE): boolean {
  if (!uid.startsWith('1.2.840.10008.')) return privateAccepted.has(uid);
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.')
    || /^1\.2\.840\.10008\.5\.1\.4\.(34|38|39|43|44|45)\./.test(uid);
}

const NONE: ReadonlySet<string> = new Set();
