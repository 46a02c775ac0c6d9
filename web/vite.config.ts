import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The browser app: the admin console (index.html) and the patient portal (portal/index.html), built
// into dist/web by the project's install (npm ci runs `prepare`) and served by the gateway itself.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  // "Check a copy" bundles the gateway's own verification code: the few Node modules it touches are
  // stood in for by browser ones (web/src/shims); Buffer comes from the \`buffer\` package.
  resolve: {
    alias: {
      'node:crypto': fileURLToPath(new URL('./src/shims/node-crypto.ts', import.meta.url)),
      'node:zlib': fileURLToPath(new URL('./src/shims/node-zlib.ts', import.meta.url)),
      'node:module': fileURLToPath(new URL('./src/shims/node-module.ts', import.meta.url)),
      'dcmjs-codecs': fileURLToPath(new URL('./src/shims/dcmjs-codecs.ts', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      input: {
        console: fileURLToPath(new URL('./index.html', import.meta.url)),
        portal: fileURLToPath(new URL('./portal/index.html', import.meta.url)),
      },
    },
  },
});
