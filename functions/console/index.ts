import { makeHandler } from './handler.ts';
import { loadStaticFiles } from './static-files.ts';

/** Reads the console's files once per cold start; the function needs no configuration, secret or table. */
export const handler = makeHandler({ files: loadStaticFiles() });
