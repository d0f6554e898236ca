import { EXPORT_USAGE, runCli, runExport } from './accountability-cli.ts';

/** `npm run export -- --format csv|jsonl --from YYYY-MM-DD [--to …]`: see {@link runExport}. */
await runCli(() => runExport(process.argv.slice(2)), EXPORT_USAGE);
