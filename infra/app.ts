import path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import { ErasureStack, readSettings } from './erasure-stack.ts';
import { synthesisSummary, withoutBundlingProgress } from './synth-output.ts';

// cdk-nag is CommonJS with re-exported names Node cannot detect statically, so take them off the default export.
const { AwsSolutionsChecks } = cdkNag;

const app = new App();

const stackName: string = app.node.tryGetContext('stackName') ?? 'GdprErasure';

// Environment-agnostic on purpose: nothing in the stack looks anything up, so synth needs no credentials or network;
// `cdk deploy` fills in the account and region of the profile it runs with. Constructing it bundles every function:
// CDK's line per bundle is held back (esbuild's warnings and errors still show), and one line sums it up at the end.
const { bundled } = withoutBundlingProgress(
  () =>
    new ErasureStack(app, stackName, {
      settings: readSettings(app),
      description: 'GDPR Art. 17 erasure service for Referral Rock and FirstPromoter',
    }),
);

// Every synth (and so every deploy) fails on an unacknowledged AWS Solutions finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

app.synth();
process.stderr.write(synthesisSummary(stackName, path.relative(process.cwd(), app.outdir) || '.', bundled));
