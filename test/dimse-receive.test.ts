/** Receiving PDUs: whole PDUs handed to the library however the socket splits them (PS3.8 9.3.1, 9.3.5). */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { type AddressInfo, type Socket, connect, createServer } from 'node:net';
import { test } from 'node:test';
import { deliverWholePdus, readWholePdus } from '../src/net/pdu-reader.ts';

/** A P-DATA-TF PDU with one PDV item of `data`; `command` sets bit 0 of the message control header. */
function pdataPdu(data: Buffer, command: boolean, last: boolean): Buffer {
  const head = Buffer.alloc(12);
  head[0] = 0x04;
  head.writeUInt32BE(data.length + 6, 2);
  head.writeUInt32BE(data.length + 2, 6);
  head[10] = 1;
  head[11] = (command ? 1 : 0) | (last ? 2 : 0);
  return Buffer.concat([head, data]);
}

test('receive: every PDU reaches the library whole and intact, however reads split the stream', () => {
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const fill = (n: number, k: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + k) & 0xff));
  const pdus: Buffer[] = [];
  for (let k = 0; k < 15; k++) {
    pdus.push(pdataPdu(fill(90, k), true, true)); // a command
    for (let f = 0; f < 3; f++) pdus.push(pdataPdu(fill(100_000 + rand(150_000), k + f), false, f === 2)); // data set fragments
    if (k % 7 === 0) pdus.push(Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])); // A-RELEASE-RQ
  }
  const stream = Buffer.concat(pdus);
  const socket = new EventEmitter();
  deliverWholePdus(socket as unknown as Socket);
  const got: Buffer[] = [];
  // The library parses each PDU before the next read; a copy taken then is what it saw.
  socket.on('data', (pdu: Buffer) => { got.push(Buffer.from(pdu)); });
  for (let o = 0; o < stream.length;) {
    const n = Math.min(stream.length - o, 1 + rand(rand(2) ? 70_000 : 300));
    socket.emit('data', stream.subarray(o, o + n));
    o += n;
  }
  assert.equal(got.length, pdus.length);
  got.forEach((g, i) => assert.ok(g.equals(pdus[i]!), `PDU ${i} differs`));
});

test('receive: data set fragments go to the taker straight from the reads, everything it declines to the library, in order', () => {
  let seed = 11;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const fill = (n: number, k: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 17 + k) & 0xff));
  const pdus: Array<{ pdu: Buffer; data?: Buffer; last?: boolean }> = [];
  for (let k = 0; k < 12; k++) {
    pdus.push({ pdu: pdataPdu(fill(90, k), true, true) });
    for (let f = 0; f < 3; f++) {
      const data = fill(50_000 + rand(200_000), k * 3 + f);
      pdus.push({ pdu: pdataPdu(data, false, f === 2), data, last: f === 2 });
    }
  }
  const stream = Buffer.concat(pdus.map((p) => p.pdu));
  const socket = new EventEmitter();
  const events: Array<{ by: 'taker' | 'library'; bytes: Buffer; last?: boolean }> = [];
  let n = 0;
  deliverWholePdus(socket as unknown as Socket, (pcId, last, parts, offset, length) => {
    assert.equal(pcId, 1);
    if (n++ % 4 === 3) return false; // declined: the library has it
    events.push({ by: 'taker', bytes: Buffer.concat(parts).subarray(offset, offset + length), last });
    return true;
  });
  socket.on('data', (pdu: Buffer) => { events.push({ by: 'library', bytes: Buffer.from(pdu) }); });
  for (let o = 0; o < stream.length;) {
    const len = Math.min(stream.length - o, 1 + rand(rand(2) ? 70_000 : 300));
    socket.emit('data', stream.subarray(o, o + len));
    o += len;
  }
  assert.equal(events.length, pdus.length);
  let taken = 0;
  events.forEach((e, i) => {
    const p = pdus[i]!;
    if (e.by === 'taker') {
      taken++;
      assert.ok(p.data && e.bytes.equals(p.data), `fragment ${i} differs`);
      assert.equal(e.last, p.last);
    } else {
      assert.ok(e.bytes.equals(p.pdu), `PDU ${i} differs`);
    }
  });
  assert.equal(taken, 27); // 36 fragments, every fourth declined
});

test('receive: a PDU longer than advertised closes the connection instead of being buffered', () => {
  const socket = new EventEmitter() as EventEmitter & { destroyed?: Error; destroy(e: Error): void };
  socket.destroy = (e: Error) => { socket.destroyed = e; };
  deliverWholePdus(socket as unknown as Socket);
  let delivered = 0;
  socket.on('data', () => { delivered++; });
  const head = Buffer.alloc(6);
  head[0] = 0x04;
  head.writeUInt32BE((1 << 20) + 1, 2);
  socket.emit('data', head);
  assert.equal(delivered, 0);
  assert.match(socket.destroyed?.message ?? '', /exceeds/);
});

test('receive over TCP: reads into memory used again still hand every PDU and fragment on intact, and the accepted socket closes with the connection', { timeout: 30_000 }, async () => {
  let seed = 5;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const fill = (n: number, k: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + k) & 0xff));
  const pdus: Array<{ pdu: Buffer; data?: Buffer }> = [];
  for (let k = 0; k < 20; k++) {
    pdus.push({ pdu: pdataPdu(fill(90, k), true, true) });
    for (let f = 0; f < 3; f++) {
      const data = fill(100_000 + rand(400_000), k * 3 + f);
      pdus.push({ pdu: pdataPdu(data, false, f === 2), data });
    }
  }
  const stream = Buffer.concat(pdus.map((p) => p.pdu));
  const events: Buffer[] = [];
  let n = 0;
  let adopted: Socket | undefined;
  const server = createServer({ pauseOnConnect: true }, (accepted) => {
    adopted = readWholePdus(accepted, (_pcId, _last, parts, offset, length) => {
      if (n++ % 5 === 4) return false; // declined: the library has it
      // Copied now, as the sink does: the reads' memory is used again afterwards.
      events.push(Buffer.from(Buffer.concat(parts).subarray(offset, offset + length)));
      return true;
    });
    assert.notEqual(adopted, accepted, 'a plain TCP connection is read into memory of its own');
    adopted.on('data', (pdu: Buffer) => {
      // A PDU other than a data set fragment is the library's own: later reads do not change it.
      // (A declined fragment is assembled in memory the connection uses again for the next one.)
      if (pdu[11]! & 0x01) {
        const copy = Buffer.from(pdu);
        setImmediate(() => assert.ok(pdu.equals(copy), 'a command PDU handed on changed after later reads'));
      }
      events.push(Buffer.from(pdu.subarray(12)));
    });
    adopted.on('end', () => adopted!.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  try {
    await once(client, 'connect');
    for (let o = 0; o < stream.length;) {
      const len = Math.min(stream.length - o, 1 + rand(rand(2) ? 300_000 : 500));
      if (!client.write(stream.subarray(o, o + len))) await once(client, 'drain');
      o += len;
    }
    client.end();
    client.resume();
    await once(client, 'close');
    await new Promise<void>((resolve) => server.close(() => resolve())); // the accepted socket is closed too
  } finally {
    client.destroy();
    adopted?.destroy();
    server.close();
  }
  assert.equal(events.length, pdus.length);
  // The value of each PDU's single PDV (after the 6-byte PDU and 6-byte PDV headers).
  events.forEach((e, i) => assert.ok(e.equals(pdus[i]!.pdu.subarray(12)), `PDU ${i} differs`));
});

test('receive over TCP: destroying the accepted socket (as the gateway does on stop) closes the connection read into memory of its own', { timeout: 30_000 }, async () => {
  let accepted: Socket | undefined;
  let adopted: Socket | undefined;
  const server = createServer({ pauseOnConnect: true }, (s) => { accepted = s; adopted = readWholePdus(s); adopted.on('data', () => undefined); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.on('error', () => undefined);
  try {
    await once(server, 'connection');
    await new Promise((r) => setImmediate(r));
    accepted!.destroy();
    await once(client, 'close');
    assert.equal(adopted!.destroyed, true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  } finally {
    client.destroy();
    server.close();
  }
});
