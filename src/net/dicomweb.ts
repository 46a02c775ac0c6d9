import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { recordAccess } from '../auth/guard.ts';
import { isCustosError } from '../errors.ts';
import { type IngestResult, type Origin, rejectionStatus } from '../pipeline/ingest.ts';
import type { Database } from '../store/database.ts';
import { instanceIdsFor, instancesOf, seriesOfStudy } from '../store/instance-queries.ts';
import { listStudies } from '../store/totals.ts';
import type { SharedBufferPool } from '../store/buffer-pool.ts';
import { ReceiveBuffer, type SpoolPolicy } from '../store/receive-buffer.ts';
import type { Received } from '../store/spool.ts';
import { closeMultipart, contentTypeParams, framePart, multipartContentType, newBoundary, splitMultipart } from './multipart.ts';

/*
 * DICOMweb for what the gateway holds (PS3.18): STOW-RS to receive, QIDO-RS to list, WADO-RS to
 * retrieve originals (admin use: they are PHI). Attributes in DICOM JSON (PS3.18 F.2).
 */

export interface DicomwebDeps {
  db: Database;
  ingest(received: Received, origin: Origin): Promise<IngestResult>;
  /** The original Part 10 bytes of an instance row. */
  original(instanceId: number): Promise<Buffer>;
  /** Largest request body accepted (bytes). */
  bodyLimit: number;
  /** Most instances in one STOW-RS request. */
  maxParts: number;
  /** Shared memory for request bodies (the blob writer encrypts a part where it lies). */
  pool?: SharedBufferPool;
  /** Where a body goes that memory would not hold; without it, bodies are held in memory. */
  spool?: SpoolPolicy;
}

/** A STOW-RS body as received; `done` lets go of it once the request is answered. */
interface StowBody { received: Received; done: () => void }

/** A request body over the limit: 413, the connection closed (the rest is not read). */
function bodyTooLarge(limit: number): Error {
  return Object.assign(new Error(`the request body exceeds the ${limit}-byte limit (http.maxRequestMiB)`), { statusCode: 413, code: 'HTTP_BODY_TOO_LARGE' });
}

type Json = Record<string, { vr: string; Value?: unknown[] }>;
const ui = (v: string) => ({ vr: 'UI', Value: [v] });
const url = (v: string) => ({ vr: 'UR', Value: [v] });

/** PS3.18 Table 10.5.3-3 failure reasons (PS3.4 C-STORE statuses). */
function failureReason(code: string): number {
  if (code === 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX') return 0xc122; // Referenced Transfer Syntax not supported
  return rejectionStatus(code);
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

export function dicomwebRoutes(deps: DicomwebDeps) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    // The body is received as it arrives into memory while the budget allows, else into the spool:
    // a large upload costs disk, not memory (hostile input: memory bounded by configuration).
    app.addContentTypeParser('multipart/related', (req, payload, done) => {
      const declared = Number(req.headers['content-length']);
      if (declared > deps.bodyLimit) { done(bodyTooLarge(deps.bodyLimit), undefined); return; }
      const buffer = new ReceiveBuffer(Number.isFinite(declared) ? declared : 64 << 10, deps.bodyLimit, deps.pool, deps.spool);
      let size = 0;
      let settled = false;
      const fail = (e: Error): void => { if (settled) return; settled = true; buffer.release(); done(e, undefined); };
      payload.on('data', (chunk: Buffer) => {
        if (settled) return;
        size += chunk.length;
        if (size > deps.bodyLimit) { fail(bodyTooLarge(deps.bodyLimit)); return; }
        try { buffer.write(chunk); } catch (e) { fail(Object.assign(new Error('the request body could not be held'), { statusCode: 503, code: 'STORE_UNAVAILABLE', cause: e })); }
      });
      payload.on('end', () => { if (settled) return; settled = true; done(null, buffer.finish() satisfies StowBody); });
      payload.on('error', (e: Error) => fail(e));
      payload.on('close', () => fail(new Error('the request ended before its body')));
    });

    const base = (req: FastifyRequest): string => `${req.protocol}://${req.host}/dicomweb`;

    const stow = async (req: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply) => {
      const body = req.body as StowBody | undefined;
      try {
        return await stowBody(req, reply, body?.received);
      } finally {
        body?.done();
      }
    };

    const stowBody = async (req: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply, received: Received | undefined) => {
      const { mediaType, params } = contentTypeParams(String(req.headers['content-type'] ?? ''));
      if (mediaType !== 'multipart/related' || !params.boundary) {
        return reply.code(415).send({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'STOW-RS takes multipart/related; type="application/dicom" with a boundary' });
      }
      if (params.type && params.type.toLowerCase() !== 'application/dicom') {
        return reply.code(415).send({ error: 'UNSUPPORTED_MEDIA_TYPE', message: `only application/dicom parts are accepted, not ${params.type}` });
      }
      const study = req.params.study;
      if (study !== undefined && !UID.test(study)) return reply.code(400).send({ error: 'BAD_UID', message: 'the study UID in the URL is not a UID' });
      if (!received) return reply.code(400).send({ error: 'MULTIPART_MALFORMED', message: 'the request has no body' });
      let parts;
      const src = received.open();
      try {
        parts = splitMultipart(src, params.boundary, deps.maxParts);
      } catch (e) {
        if (isCustosError(e) && e.code === 'MULTIPART_TOO_MANY_PARTS') return reply.code(413).send({ error: e.code, message: `${e.message}: send them in several requests; nothing was stored` });
        if (isCustosError(e) && e.code === 'MULTIPART_MALFORMED') return reply.code(400).send({ error: e.code, message: e.message });
        throw e; // not the request's fault: the root handler answers INTERNAL
      } finally {
        src.close();
      }
      const stored: Json[] = [];
      const failed: Json[] = [];
      let storageDown = false;
      for (const part of parts) {
        const type = contentTypeParams(part.headers['content-type'] ?? 'application/dicom').mediaType;
        if (type !== 'application/dicom') {
          failed.push({ '00081197': { vr: 'US', Value: [0xc000] }, '00000902': { vr: 'LO', Value: [`part of type ${type} is not application/dicom`] } });
          continue;
        }
        if (storageDown) {
          failed.push({ '00081197': { vr: 'US', Value: [0xa700] }, '00000902': { vr: 'LO', Value: ['STORE_UNAVAILABLE: not stored, retry later'] } });
          continue;
        }
        let r: IngestResult;
        try {
          r = await deps.ingest(received.slice(part.start, part.length), { source: 'stow', callingAeTitle: null, ...(study ? { expected: { studyInstanceUID: study } } : {}) });
        } catch (e) {
          req.log.error({ code: isCustosError(e) ? e.code : 'INTERNAL' }, 'STOW instance not stored');
          storageDown = true;
          failed.push({ '00081197': { vr: 'US', Value: [0xa700] }, '00000902': { vr: 'LO', Value: [`${isCustosError(e) ? e.code : 'INTERNAL'}: not stored, retry later`] } });
          continue;
        }
        if (r.status === 'rejected') {
          failed.push({
            ...(r.sopClassUID ? { '00081150': ui(r.sopClassUID) } : {}),
            ...(r.sopInstanceUID ? { '00081155': ui(r.sopInstanceUID) } : {}),
            '00081197': { vr: 'US', Value: [failureReason(r.code)] },
            '00000902': { vr: 'LO', Value: [`${r.code}: ${r.message}`.slice(0, 64)] },
          });
        } else {
          stored.push({ '00081150': ui(r.sopClassUID), '00081155': ui(r.sopInstanceUID) });
        }
      }
      const body: Json = {};
      if (study) body['00081190'] = url(`${base(req)}/studies/${study}`);
      if (stored.length) body['00081199'] = { vr: 'SQ', Value: stored };
      if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed };
      // PS3.18 10.5.3: 200 all stored, 202 some failed, 409 none stored.
      const status = failed.length === 0 ? 200 : stored.length ? 202 : 409;
      return reply.code(status).type('application/dicom+json').send(body);
    };
    const store = { config: { permission: 'instances:store' } } as const;
    app.post('/dicomweb/studies', store, stow);
    app.post('/dicomweb/studies/:study', store, stow);

    const page = (q: Record<string, string | undefined>) => ({
      limit: Math.min(Math.max(Number.parseInt(q.limit ?? '100', 10) || 100, 1), 1000),
      offset: Math.max(Number.parseInt(q.offset ?? '0', 10) || 0, 0),
    });

    // QIDO-RS (PS3.18 10.6): studies, series, instances held by the gateway.
    const list = { config: { permission: 'studies:read' } } as const;
    app.get('/dicomweb/studies', list, async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const { limit, offset } = page(q);
      const rows = await listStudies(deps.db, { order: 'arrival', limit, offset, study: q.StudyInstanceUID ?? q['0020000D'] });
      await recordAccess(deps.db, req, 'access.list', { route: 'QIDO-RS studies', studies: rows.length });
      return reply.type('application/dicom+json').send(rows.map((r) => ({
        '0020000D': ui(r.study),
        '00080061': { vr: 'CS', Value: r.modalities },
        '00201206': { vr: 'IS', Value: [r.series] },
        '00201208': { vr: 'IS', Value: [r.instances] },
        '00081190': url(`${base(req)}/studies/${r.study}`),
      })));
    });
    app.get('/dicomweb/studies/:study/series', list, async (req, reply) => {
      const { study } = req.params as { study: string };
      const rows = await seriesOfStudy(deps.db, study);
      await recordAccess(deps.db, req, 'access.list', { route: 'QIDO-RS series', study, series: rows.length });
      return reply.type('application/dicom+json').send(rows.map((r) => ({
        '0020000D': ui(study),
        '0020000E': ui(r.series),
        ...(r.modality ? { '00080060': { vr: 'CS', Value: [r.modality] } } : {}),
        '00201209': { vr: 'IS', Value: [r.instances] },
        '00081190': url(`${base(req)}/studies/${study}/series/${r.series}`),
      })));
    });
    const instances = async (req: FastifyRequest, reply: FastifyReply) => {
      const { study, series } = req.params as { study: string; series?: string };
      const rows = await instancesOf(deps.db, study, series);
      await recordAccess(deps.db, req, 'access.list', { route: 'QIDO-RS instances', study, ...(series ? { series } : {}), instances: rows.length });
      return reply.type('application/dicom+json').send(rows.map((r) => ({
        '00080016': ui(r.cls),
        '00080018': ui(r.sop),
        '0020000D': ui(study),
        '0020000E': ui(r.series),
        '00083002': ui(r.ts),
        '00081190': url(`${base(req)}/studies/${study}/series/${r.series}/instances/${r.sop}`),
      })));
    };
    app.get('/dicomweb/studies/:study/instances', list, instances);
    app.get('/dicomweb/studies/:study/series/:series/instances', list, instances);

    // WADO-RS (PS3.18 10.4): originals as multipart/related application/dicom.
    const retrieve = async (req: FastifyRequest, reply: FastifyReply) => {
      const accept = String(req.headers.accept ?? '*/*');
      if (!/multipart\/related|application\/dicom(?!\+)|\*\/\*/.test(accept)) {
        return reply.code(406).send({ error: 'NOT_ACCEPTABLE', message: 'WADO-RS here returns multipart/related; type="application/dicom"' });
      }
      const { study, series, instance } = req.params as { study: string; series?: string; instance?: string };
      const ids = await instanceIdsFor(deps.db, study, series, instance);
      if (!ids.length) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such instances here' });
      // Recorded before the bytes leave: a read that fails half-way is still on the record.
      await recordAccess(deps.db, req, 'access.originals', { study, ...(series ? { series } : {}), ...(instance ? { instance } : {}), instances: ids.length });
      // Streamed one instance at a time: memory holds one original, not the study. The first is
      // read before the answer starts, so that a shredded patient still gets its 410.
      let first: Buffer;
      try {
        first = await deps.original(ids[0]!);
      } catch (e) {
        if (isCustosError(e) && e.code === 'PATIENT_SHREDDED') return reply.code(410).send({ error: e.code, message: 'these instances were destroyed (patient key shredded)' });
        if (isCustosError(e) && e.code === 'RETENTION_PURGED') return reply.code(410).send({ error: e.code, message: 'these instances were purged (retention or erasure)' });
        throw e;
      }
      const boundary = newBoundary();
      async function* body(): AsyncGenerator<Buffer> {
        yield* framePart(first, 'application/dicom', boundary);
        // A later instance that fails ends the stream without its closing delimiter: the client sees a truncated answer.
        for (const id of ids.slice(1)) yield* framePart(await deps.original(id), 'application/dicom', boundary);
        yield closeMultipart(boundary);
      }
      return reply.type(multipartContentType('application/dicom', boundary)).send(Readable.from(body(), { objectMode: false }));
    };
    const originals = { config: { permission: 'originals:read' } } as const;
    app.get('/dicomweb/studies/:study', originals, retrieve);
    app.get('/dicomweb/studies/:study/series/:series', originals, retrieve);
    app.get('/dicomweb/studies/:study/series/:series/instances/:instance', originals, retrieve);
  };
}
