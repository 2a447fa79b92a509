/**
 * `npm run build`, after tsc has compiled the programs into dist/: completes the production build with
 * what tsc does not make. The database migrations (SQL and drizzle's journal) go beside the compiled
 * migrator, and the workflows are bundled once, here, so that a production worker starts without webpack.
 */
import { cp, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist/`;

await cp(`${root}db/migrations`, `${dist}db/migrations`, { recursive: true });
const { code } = await bundleWorkflowCode({ workflowsPath: `${dist}workflows/index.js` });
// The path the compiled worker looks for (worker/workflow-bundle.ts, prebuiltBundlePath).
await writeFile(`${dist}workflows/bundle.js`, code);
process.stderr.write(`build: dist/ holds the compiled programs, the migrations and the workflow bundle (${Math.round(code.length / 1024)} KiB)\n`);
