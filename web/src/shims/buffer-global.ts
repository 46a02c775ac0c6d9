import { Buffer } from 'buffer';

// The integrity code is written against Node's Buffer: in the browser the `buffer` package stands in.
(globalThis as { Buffer?: unknown }).Buffer ??= Buffer;
