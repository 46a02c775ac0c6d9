import type { FastifyInstance } from 'fastify';
import { cosign } from '../integrity/cosignature.ts';
import type { NoteVerifier } from '../integrity/note.ts';
import { type WitnessAnswer, decideAddCheckpoint, parseAddCheckpoint } from '../integrity/witness.ts';
import { isCustosError } from '../errors.ts';
import type { WitnessStore } from '../store/witness-state.ts';

/**
 * A witness's HTTP interface (c2sp.org/tlog-witness): POST /add-checkpoint. Public by design: the
 * protocol authenticates the checkpoint (signed by a log key the witness follows), not the caller.
 * Requests are decided one at a time, so checking the old size and recording the new checkpoint
 * are atomic (the spec's race between two submissions).
 */
export function witnessRoutes(deps: { store: WitnessStore; logs: readonly NoteVerifier[] }) {
  let chain: Promise<unknown> = Promise.resolve();
  const decide = (body: string): Promise<WitnessAnswer & { cosignature?: string }> => {
    const run = chain.then(() => {
      const req = parseAddCheckpoint(body);
      const answer = decideAddCheckpoint(req, deps.logs, (o) => deps.store.get(o));
      if (answer.status === 200) {
        const { checkpoint: cp, text } = answer;
        const held = deps.store.get(cp.origin);
        if (!held || held.size !== cp.size) deps.store.put(cp.origin, { size: cp.size, root: cp.root.toString('base64'), note: req.note });
        return { ...answer, cosignature: cosign(text, deps.store.cosigner, Math.floor(Date.now() / 1000)) };
      }
      if ((answer.status === 409 && answer.splitView) || answer.status === 422) {
        const origin = /^([^\n]+)\n/.exec(req.note)?.[1] ?? '';
        deps.store.evidence(answer.status === 422 ? 'inconsistent' : 'split-view', origin, req.note, deps.store.get(origin));
      }
      return answer;
    });
    chain = run.catch(() => undefined);
    return run;
  };
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 64 << 10 }, (_req, body, done) => done(null, body));
    app.post('/add-checkpoint', { config: { public: true } }, async (req, reply) => {
      if (typeof req.body !== 'string') return reply.code(400).type('text/plain').send('the body is an add-checkpoint request (text)\n');
      let answer;
      try {
        answer = await decide(req.body);
      } catch (e) {
        if (isCustosError(e) && e.code === 'WITNESS_BAD_REQUEST') return reply.code(400).type('text/plain').send(`${e.message}\n`);
        throw e;
      }
      if (answer.status === 200) return reply.code(200).type('text/plain; charset=utf-8').send(answer.cosignature);
      if (answer.status === 409) {
        reply.header('x-custos-split-view', answer.splitView ? '1' : '0');
        return reply.code(409).type('text/x.tlog.size').send(`${answer.size}\n`);
      }
      return reply.code(answer.status).type('text/plain').send(`${answer.code}: ${answer.message}\n`);
    });
  };
}
