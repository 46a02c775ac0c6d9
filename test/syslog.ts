/** A real syslog receiver for the tests: Debian's rsyslog with its TLS driver (RFC 5425), writing each message's MSGID and text to a file. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Pki } from './pki.ts';
import { waitFor } from './peers.ts';

export interface Rsyslog { port: number; out: string; stop(): Promise<void> }

export async function startRsyslog(dir: string, pki: Pki, port: number): Promise<Rsyslog> {
  mkdirSync(join(dir, 'work'), { recursive: true });
  const out = join(dir, 'received.log');
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(conf, [
    `global(workDirectory="${join(dir, 'work')}" maxMessageSize="64k" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${pki.ca}" DefaultNetstreamDriverCertFile="${pki.serverCert}" DefaultNetstreamDriverKeyFile="${pki.serverKey}")`,
    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")',
    `input(type="imtcp" port="${port}" address="127.0.0.1")`,
    'template(name="audit" type="string" string="%msgid% %msg%\\n")',
    `action(type="omfile" file="${out}" template="audit")`,
  ].join('\n') + '\n');
  const proc: ChildProcess = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')], { stdio: 'ignore' });
  await waitFor('rsyslogd to listen', () => new Promise<true | undefined>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(undefined));
  }), 15_000, 100);
  return {
    port, out,
    stop: () => new Promise((resolve) => { if (proc.exitCode !== null) { resolve(); return; } proc.once('exit', () => resolve()); proc.kill('SIGTERM'); }),
  };
}
