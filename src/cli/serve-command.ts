import { type GatewayConfig, loadGatewayConfig, parseGatewayConfig } from '../config/gateway-config.ts';
import { CustosError } from '../errors.ts';
import { startGateway } from '../gateway.ts';
import { dataDirOf, parseCommand } from './args.ts';
import { SERVE_HELP } from './help.ts';

const portOf = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CustosError('USAGE', `${flag} must be a port number 0–65535, not ${JSON.stringify(v)}`);
  return n;
};

export async function serveMain(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommand(argv, {
    config: { type: 'string' },
    host: { type: 'string' },
    'dimse-port': { type: 'string' },
    'http-port': { type: 'string' },
    'ae-title': { type: 'string' },
  });
  if (v.help) { process.stdout.write(SERVE_HELP); return 0; }
  if (positionals.length) throw new CustosError('USAGE', `serve takes no arguments (got ${positionals.join(' ')})`);
  const file: GatewayConfig = v.config ? loadGatewayConfig(v.config) : parseGatewayConfig({});
  // Flags override the file; the merged result is validated again so a bad flag is reported like a bad field.
  const config = parseGatewayConfig({
    ...file,
    ...(v.host ? { host: v.host } : {}),
    dimse: { ...file.dimse, ...(v['dimse-port'] !== undefined ? { port: portOf('--dimse-port', v['dimse-port']) } : {}), ...(v['ae-title'] ? { aeTitle: v['ae-title'] } : {}) },
    http: { ...file.http, ...(v['http-port'] !== undefined ? { port: portOf('--http-port', v['http-port']) } : {}) },
  }, 'configuration (file and flags)');
  const dataDir = dataDirOf(v['data-dir'] ?? config.dataDir);
  const gw = await startGateway(config, dataDir);
  process.stdout.write([
    `custos gateway ready`,
    `  DIMSE     ${gw.dimse.aeTitle}@${gw.dimse.host}:${gw.dimse.port}${gw.dimse.tlsPort !== undefined ? `  (DICOM TLS on port ${gw.dimse.tlsPort})` : ''}`,
    `  HTTP      ${gw.http.url}  (DICOMweb ${gw.http.url}/dicomweb, API ${gw.http.url}/api, OpenAPI ${gw.http.url}/api/docs)`,
    `  data dir  ${gw.dataDir}  (database: ${gw.db.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL server'})`,
    `  recipients ${config.recipients.length ? config.recipients.map((r) => r.id).join(', ') : 'none configured: instances are stored and logged, not forwarded'}`,
    ...(gw.adminCredentialFile ? [`  admin     the first admin credential (user name, password, API token) is in ${gw.adminCredentialFile}`, `            (readable by you only: keep it somewhere safe, then delete the file)`] : []),
    `  access    every route needs a credential (docs/security.md); manage them with custos users|tokens|patient-code`,
    '',
  ].join('\n'));
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write('custos: stopping (finishing work in progress)\n');
  await gw.close();
  // Everything is closed; a library timer or keep-alive socket must not keep a stopped service alive.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}
