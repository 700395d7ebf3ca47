// Injected by esbuild into the CJS bundles: ESM-only dependencies (fdir, via tinyglobby) read
// import.meta.url, which CommonJS lacks; this gives them the bundle's own URL.
import { pathToFileURL } from 'node:url';

export const import_meta_url = pathToFileURL(__filename).href;
