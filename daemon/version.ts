// Set by esbuild from package.json; the fallback serves tests that run the sources directly.
declare const __KEYWARD_VERSION__: string | undefined;
export const VERSION: string = typeof __KEYWARD_VERSION__ === 'string' ? __KEYWARD_VERSION__ : '0.0.0-dev';
