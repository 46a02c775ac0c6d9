import { encodeMultipart } from '../src/net/multipart.ts';

/** STOW-RS of Part 10 instances to a gateway (POST /dicomweb/studies); the HTTP status. */
export async function stow(url: string, bodies: Buffer[], token: string): Promise<number> {
  const { parts, contentType } = encodeMultipart(bodies, 'application/dicom');
  const res = await fetch(`${url}/dicomweb/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${token}` }, body: Buffer.concat(parts) });
  await res.arrayBuffer();
  return res.status;
}
