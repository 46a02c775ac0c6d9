import Fastify from 'fastify';
import { resolve } from 'node:path';
import { CustosError } from '../errors.ts';
import { witnessRoutes } from '../api/witness-routes.ts';
import { parseVerifierKey } from '../integrity/note.ts';
import { WitnessStore } from '../store/witness-state.ts';
import { parseCommand } from './args.ts';
import { WITNESS_HELP } from './help.ts';

/** `custos witness`: run a witness (c2sp.org/tlog-witness) for the logs whose keys it is given. */
export async function witnessMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values: v } = parseCommand(rest, {
    dir: { type: 'string', default: 'custos-witness' }, name: { type: 'string' }, 'log-key': { type: 'string', multiple: true },
    host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8082' },
  });
  if (v.help || !sub || sub === 'help') { process.stdout.write(WITNESS_HELP); return 0; }
  const store = new WitnessStore(resolve(v.dir!), v.name);
  if (sub === 'key') { process.stdout.write(store.vkey + '\n'); return 0; }
  if (sub !== 'serve') throw new CustosError('USAGE', `unknown witness command ${JSON.stringify(sub)}`);
  const logs = (v['log-key'] ?? []).map((k) => parseVerifierKey(k));
  if (!logs.length) throw new CustosError('USAGE', 'give the key of each log this witness follows: --log-key <vkey> (from `custos log key`)');
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CustosError('USAGE', `--port must be 0-65535, got ${JSON.stringify(v.port)}`);
  const app = Fastify({ logger: false });
  await app.register(witnessRoutes({ store, logs }));
  const address = await app.listen({ host: v.host!, port });
  process.stdout.write(`custos witness: ${address}/add-checkpoint\nwitness key: ${store.vkey}\nfollowing: ${logs.map((l) => l.name).join(', ')}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => { void app.close().then(() => done()); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
