/* node:module in the browser: nothing is required at run time there (the codecs are not loaded). */
export function createRequire(): never {
  throw Object.assign(new Error('compressed pixel data cannot be checked in the browser yet: use custos verify'), { code: 'PIXEL_DECODE' });
}
