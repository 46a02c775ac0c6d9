/**
 * The URL of a module beside the caller, for worker threads and imports by URL. Run from the sources
 * (a checkout) the modules are TypeScript; an installed package runs the JavaScript compiled into lib/,
 * since Node does not strip types from files under node_modules. The caller's own extension says which.
 */
export function siblingModule(stem: string, callerUrl: string): URL {
  return new URL(`${stem}${callerUrl.endsWith('.js') ? '.js' : '.ts'}`, callerUrl);
}
