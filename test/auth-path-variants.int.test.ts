/**
 * Regression: with a token configured, percent-encoded letters in the path must not walk around
 * the check (the router matches the decoded path; the check must follow the route, not the raw URL).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseGatewayConfig } from '../src/config/gateway-config.ts';
import { type Gateway, startGateway } from '../src/gateway.ts';
import { tempDir } from './helpers.ts';

let gw: Gateway;
before(async () => {
  gw = await startGateway(parseGatewayConfig({ dimse: { port: 0 }, http: { port: 0, adminToken: 'a-static-admin-token-for-tests' } }), join(tempDir('custos-pathvar-'), 'data'));
});
after(async () => { await gw?.close(); });

test('percent-encoded letters in /api and /dicomweb paths are refused without credentials', async () => {
  for (const path of ['/api/status', '/%61pi/status', '/%61pi/recipients', '/%64icomweb/studies', '/dicomweb/%73tudies']) {
    const res = await fetch(`${gw.http.url}${path}`);
    await res.arrayBuffer();
    assert.equal(res.status, 401, `${path} answered ${res.status} without credentials`);
  }
});
