import assert from 'node:assert/strict';
import { test } from 'node:test';
import { siblingModule } from '../src/module-url.ts';

test('siblingModule keeps the caller\'s kind: TypeScript from src/, JavaScript from the compiled lib/', () => {
  assert.equal(siblingModule('./pglite-worker', 'file:///opt/custos/src/store/database.ts').href, 'file:///opt/custos/src/store/pglite-worker.ts');
  assert.equal(siblingModule('./pglite-worker', 'file:///usr/lib/node_modules/custos/lib/store/database.js').href, 'file:///usr/lib/node_modules/custos/lib/store/pglite-worker.js');
  assert.equal(siblingModule('./pipeline/blob-description', 'file:///x/lib/gateway.js').href, 'file:///x/lib/pipeline/blob-description.js');
});
