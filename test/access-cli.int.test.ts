/**
 * The operator's credential commands against a data directory: users, tokens, patient codes; a
 * created token works against the gateway started on that directory; a running gateway's
 * embedded database is not opened twice.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { startGateway } from '../src/gateway.ts';
import { lockLog } from '../src/store/log-files.ts';
import { runCli, tempDir } from './helpers.ts';
import { startGatewayProcess, waitFor } from './peers.ts';

test('users, tokens and patient codes from the command line; secrets printed once, listed never', { timeout: 300_000 }, async () => {
  const data = join(tempDir('custos-cli-access-'), 'data');
  const cli = (...args: string[]) => runCli([...args, '--data-dir', data]);

  const added = cli('users', 'add', 'alice', '--role', 'privacy-officer');
  assert.equal(added.status, 0, added.stderr);
  const password = /password: (\S+)/.exec(added.stdout)![1]!;
  assert.equal(cli('users', 'add', 'alice', '--role', 'auditor').status, 2, 'the same name twice');
  const badRole = cli('users', 'add', 'bob', '--role', 'superuser');
  assert.equal(badRole.status, 2);
  assert.match(badRole.stderr, /AUTH_INVALID_REQUEST: role must be one of/);
  assert.equal(cli('users', 'add', 'carol', '--role', 'operator', '--sso').status, 0);
  const chosen = runCli(['users', 'add', 'dave', '--role', 'auditor', '--password-stdin', '--data-dir', data], { input: 'a passphrase of his own\n' });
  assert.equal(chosen.status, 0, chosen.stderr);
  assert.ok(!chosen.stdout.includes('password:'), 'a chosen password is not printed');
  assert.match(runCli(['users', 'add', 'erin', '--role', 'auditor', '--password-stdin', '--data-dir', data], { input: 'short\n' }).stderr, /at least 12 characters/);
  const users = cli('users', 'list');
  assert.match(users.stdout, /alice\s+privacy-officer\s+no/);
  assert.match(users.stdout, /carol\s+operator\s+yes/);
  assert.ok(!users.stdout.includes(password));

  const created = cli('tokens', 'create', '--name', 'ct scanner', '--role', 'sender', '--days', '30');
  assert.equal(created.status, 0, created.stderr);
  const token = /^(cst_\S+)$/m.exec(created.stdout)![1]!;
  const id = /^token (\S+),/.exec(created.stdout)![1]!;
  const scoped = cli('tokens', 'create', '--name', 'monitor', '--permission', 'status:read', '--permission', 'jobs:read');
  assert.equal(scoped.status, 0, scoped.stderr);
  assert.equal(cli('tokens', 'create', '--name', 'x', '--permission', 'everything').status, 2);
  assert.equal(cli('tokens', 'create', '--name', 'x', '--recipient', 'nobody').status, 2, 'a recipient not in the configuration');
  const tokens = cli('tokens', 'list');
  assert.match(tokens.stdout, new RegExp(`${id}\\s+ct scanner\\s+instances:store,session:self`));
  assert.match(tokens.stdout, /monitor\s+status:read,jobs:read/);
  assert.ok(!tokens.stdout.includes(token.split('.')[1]!), 'a token secret in the list');

  const code = cli('patient-code', 'SYN-0001', '--hours', '2');
  assert.equal(code.status, 0, code.stderr);
  assert.match(code.stdout, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\n/);
  assert.ok(!code.stdout.includes('SYN-0001'));

  // While the gateway holds the data directory, the commands refuse rather than open its database twice.
  const unlock = lockLog(join(data, 'log'));
  try {
    const busy = cli('users', 'list');
    assert.equal(busy.status, 2);
    assert.match(busy.stderr, /STORE_IN_USE: the gateway has the data directory .* open/);
  } finally {
    unlock();
  }

  // The gateway on this directory: no initial admin (accounts exist), and the CLI's token works as issued.
  const gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), data);
  try {
    assert.equal(gw.adminCredentialFile, undefined);
    assert.ok(!existsSync(join(data, 'initial-admin.json')));
    const login = await fetch(`${gw.http.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password }) });
    assert.equal(login.status, 200);
    assert.equal((await fetch(`${gw.http.url}/auth/session`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const dave = await fetch(`${gw.http.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dave', password: 'a passphrase of his own' }) });
    assert.equal(dave.status, 200, 'the password given on standard input');
    const sso = await fetch(`${gw.http.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'carol', password: 'any password at all' }) });
    assert.equal(sso.status, 401, 'an SSO-only account signs in with a password');
    assert.equal((await fetch(`${gw.http.url}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status, 403, 'a sender token reads status');
  } finally {
    await gw.close();
  }
  assert.equal(cli('tokens', 'revoke', id).status, 0);
  assert.equal(cli('tokens', 'revoke', id).status, 2, 'revoked twice');
  assert.equal(cli('users', 'disable', 'alice').status, 0);
  assert.match(cli('users', 'list').stdout, /alice\s+privacy-officer\s+no\s+\S+ \S+\s+\d{4}-/);
  const gw2 = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0 } }), data);
  try {
    assert.equal((await fetch(`${gw2.http.url}/auth/session`, { headers: { authorization: `Bearer ${token}` } })).status, 401, 'a revoked token');
    assert.equal((await fetch(`${gw2.http.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password }) })).status, 401, 'a disabled account');
  } finally {
    await gw2.close();
  }
});

test('credential commands print their usage; a wrong subcommand is a usage error', () => {
  for (const cmd of ['users', 'tokens', 'patient-code']) {
    const r = runCli([cmd, '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, new RegExp(`Usage: custos ${cmd}`));
  }
  const bad = runCli(['tokens', 'mint']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /tokens takes create, list or revoke/);
});

test('custos serve on a new data directory says where the admin credential is, and prints no secret', { timeout: 120_000 }, async () => {
  const data = join(tempDir('custos-serve-first-'), 'data');
  const gw = await startGatewayProcess(data, {});
  try {
    const cred = JSON.parse(readFileSync(join(data, 'initial-admin.json'), 'utf8')) as { password: string; token: string };
    await waitFor('the banner', () => (/admin .* is in /.test(gw.output()) ? true : undefined), 10_000);
    assert.ok(gw.output().includes(join(data, 'initial-admin.json')), gw.output());
    assert.ok(!gw.output().includes(cred.password) && !gw.output().includes(cred.token.slice(4)), 'a secret printed');
    assert.equal((await fetch(`${gw.http}/api/status`)).status, 401);
    assert.equal((await gw.api(`${gw.http}/api/status`)).status, 200);
  } finally {
    await gw.stop();
  }
});
