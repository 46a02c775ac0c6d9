/**
 * A single-node OpenStack Swift with the s3api middleware (Debian `swift-proxy swift-object
 * swift-container swift-account`, and memcached for its tokens), all on 127.0.0.1: a real S3-compatible object store for the blob
 * store tests. S3 credentials: access key "test:tester", secret "testing" (tempauth).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './peers.ts';

export interface Swift { endpoint: string; accessKeyId: string; secretAccessKey: string; stop(): Promise<void> }

export const SWIFT_AVAILABLE = existsSync('/usr/bin/swift-proxy-server') && existsSync('/usr/bin/swift-object-server');

export async function startSwift(dir: string): Promise<Swift> {
  // Swift reads its hash prefix from /etc/swift/swift.conf, always; write one only if there is none.
  if (!existsSync('/etc/swift/swift.conf')) {
    mkdirSync('/etc/swift', { recursive: true });
    writeFileSync('/etc/swift/swift.conf', '[swift-hash]\nswift_hash_path_suffix = custos-test\nswift_hash_path_prefix = custos-test\n\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n');
  }
  const devices = join(dir, 'node');
  mkdirSync(join(devices, 'sdb1'), { recursive: true });
  const user = userInfo().username;
  const ports = { account: await freePort(), container: await freePort(), object: await freePort(), proxy: await freePort(), memcache: await freePort() };
  const procs: ChildProcess[] = [];
  // tempauth keeps its tokens in memcache: a private memcached on loopback.
  procs.push(spawn('memcached', ['-l', '127.0.0.1', '-p', String(ports.memcache), '-U', '0', '-m', '16', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])], { stdio: 'ignore' }));
  for (const kind of ['account', 'container', 'object'] as const) {
    const builder = join(dir, `${kind}.builder`);
    for (const args of [['create', '8', '1', '1'], ['add', `r1z1-127.0.0.1:${ports[kind]}/sdb1`, '1'], ['rebalance']]) {
      const r = spawnSync('swift-ring-builder', [builder, ...args], { encoding: 'utf8' });
      if (r.status !== 0 && !(args[0] === 'rebalance' && r.status === 1)) throw new Error(`swift-ring-builder ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const conf = join(dir, `${kind}-server.conf`);
    writeFileSync(conf, `[DEFAULT]\ndevices = ${devices}\nmount_check = false\nbind_ip = 127.0.0.1\nbind_port = ${ports[kind]}\nworkers = 0\nswift_dir = ${dir}\nuser = ${user}\nlog_level = WARNING\n\n[pipeline:main]\npipeline = ${kind}-server\n\n[app:${kind}-server]\nuse = egg:swift#${kind}\n`);
    procs.push(spawn(`swift-${kind}-server`, [conf], { stdio: 'ignore' }));
  }
  const proxyConf = join(dir, 'proxy-server.conf');
  writeFileSync(proxyConf, `[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = ${ports.proxy}\nworkers = 0\nswift_dir = ${dir}\nuser = ${user}\nlog_level = WARNING\n
[pipeline:main]\npipeline = catch_errors proxy-logging cache s3api tempauth proxy-logging proxy-server\n
[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n
[filter:s3api]\nuse = egg:swift#s3api\n
[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n
[filter:catch_errors]\nuse = egg:swift#catch_errors\n
[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:${ports.memcache}\n
[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n`);
  procs.push(spawn('swift-proxy-server', [proxyConf], { stdio: 'ignore' }));
  const endpoint = `http://127.0.0.1:${ports.proxy}`;
  await waitFor('Swift', async () => ((await fetch(`${endpoint}/info`)).ok ? true : undefined), 30_000, 200);
  return {
    endpoint, accessKeyId: 'test:tester', secretAccessKey: 'testing',
    stop: async () => {
      await Promise.all(procs.map((p) => new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
      })));
    },
  };
}
