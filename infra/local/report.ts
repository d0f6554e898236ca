import { REPORT_USAGE, runCli, runReport } from './accountability-cli.ts';

/** `npm run report -- --month YYYY-MM`: see {@link runReport}. */
await runCli(() => runReport(process.argv.slice(2)), REPORT_USAGE);
