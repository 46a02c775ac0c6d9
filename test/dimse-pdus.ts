/** DIMSE PDUs built by hand for tests that send what no well-behaved client would (PS3.8 9.3, PS3.7 E.1). */
const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const item = (type: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([type, 0]), u16(body.length), body]);
const ae = (s: string): Buffer => Buffer.from(s.padEnd(16, ' '), 'latin1');
const uid = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A valid A-ASSOCIATE-RQ (PS3.8 9.3.2) for Verification and CT Image Storage, explicit VR little endian. */
export function associateRq(calling = 'FUZZ'): Buffer {
  const pc = (id: number, abstract: string): Buffer => item(0x20, Buffer.concat([Buffer.from([id, 0, 0, 0]), item(0x30, uid(abstract)), item(0x40, uid('1.2.840.10008.1.2.1')), item(0x40, uid('1.2.840.10008.1.2'))]));
  const body = Buffer.concat([u16(1), u16(0), ae('CUSTOS'), ae(calling), Buffer.alloc(32),
    item(0x10, uid('1.2.840.10008.3.1.1.1')), pc(1, '1.2.840.10008.1.1'), pc(3, '1.2.840.10008.5.1.4.1.1.2'),
    item(0x50, item(0x51, u32(16384)))]);
  return Buffer.concat([Buffer.from([0x01, 0]), u32(body.length), body]);
}

/** An implicit VR little endian command element (PS3.7 E.1). */
export const cmd = (element: number, value: Buffer): Buffer => { const h = Buffer.alloc(8); h.writeUInt16LE(0, 0); h.writeUInt16LE(element, 2); h.writeUInt32LE(value.length, 4); return Buffer.concat([h, value]); };
export const us = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
export const ui = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

/** P-DATA-TF (PS3.8 9.3.5) with one PDV: `control` 0x03 a last command fragment, 0x02 a last data fragment. */
export function pdata(pcId: number, control: number, value: Buffer): Buffer {
  const pdv = Buffer.concat([u32(value.length + 2), Buffer.from([pcId, control]), value]);
  return Buffer.concat([Buffer.from([0x04, 0]), u32(pdv.length), pdv]);
}

export function commandSet(elements: Buffer[]): Buffer {
  const rest = Buffer.concat(elements);
  const gl = Buffer.alloc(4); gl.writeUInt32LE(rest.length);
  return Buffer.concat([cmd(0x0000, gl), rest]);
}

/** A whole exchange: associate, C-ECHO, C-STORE of a small data set, release. */
export function conversation(): Buffer {
  const echo = commandSet([cmd(0x0002, ui('1.2.840.10008.1.1')), cmd(0x0100, us(0x0030)), cmd(0x0110, us(1)), cmd(0x0800, us(0x0101))]);
  const store = commandSet([cmd(0x0002, ui('1.2.840.10008.5.1.4.1.1.2')), cmd(0x0100, us(0x0001)), cmd(0x0110, us(2)), cmd(0x0700, us(0)), cmd(0x0800, us(0x0000)), cmd(0x1000, ui('2.25.999.1'))]);
  const data = Buffer.from('0800160055491a00312e322e3834302e31303030382e352e312e342e312e312e3200', 'hex');
  return Buffer.concat([associateRq(), pdata(1, 0x03, echo), pdata(3, 0x03, store), pdata(3, 0x02, data), Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
}
