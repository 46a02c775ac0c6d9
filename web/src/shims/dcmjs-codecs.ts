/*
 * The WebAssembly codecs are not loaded in the browser yet: a copy with compressed pixel data is
 * reported as not checkable here (PIXEL_DECODE), and `custos verify` checks it.
 */
const unavailable = (): never => { throw Object.assign(new Error('compressed pixel data cannot be checked in the browser yet: use custos verify'), { code: 'PIXEL_DECODE' }); };
export default { NativeCodecs: { initializeAsync: unavailable }, Context: class {} };
