/**
 * The workflows' code for the worker. A production build bundles them once, at build time (npm run build
 * writes dist/workflows/bundle.js), as Temporal recommends. Run from source, the worker bundles them at
 * start, with webpack in a short-lived child process: bundling in the worker itself grows its heap by
 * about 110 MB that Node never hands back, so every worker would carry webpack's leftovers for its whole
 * life. Run as a script, this module is that child: it bundles the workflows at the path it is given and
 * sends the code to its parent.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

/** The bundle a production build carries, beside the compiled workflows; absent in a source checkout. */
export const prebuiltBundlePath = fileURLToPath(new URL('../workflows/bundle.js', import.meta.url));

/** The workflows for Worker.create: the build's bundle when there is one, else bundled now from source. */
export async function workflowBundle(): Promise<{ codePath: string } | { code: string }> {
  if (existsSync(prebuiltBundlePath)) return { codePath: prebuiltBundlePath };
  return bundleWorkflowsApart(fileURLToPath(new URL('../workflows/index.ts', import.meta.url)));
}

/** What the child sends back: the bundle, or why it could not be made. */
type BundleMessage = { code: string } | { error: string };

/** Bundles the workflows under `workflowsPath` in a child process (same Node flags, so TypeScript loads). */
function bundleWorkflowsApart(workflowsPath: string): Promise<{ code: string }> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [workflowsPath], { execArgv: process.execArgv, stdio: 'inherit' });
    let answer: BundleMessage | undefined;
    child.once('message', (message: BundleMessage) => {
      answer = message;
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (answer && 'code' in answer) resolve({ code: answer.code });
      else reject(new Error(`bundling the workflows failed: ${answer?.error ?? `the bundler exited with ${signal ?? `code ${code}`}`}`));
    });
  });
}

async function bundleForParent(workflowsPath: string): Promise<void> {
  const send = (message: BundleMessage) => new Promise<void>((done) => process.send!(message, () => done()));
  try {
    const { code } = await bundleWorkflowCode({ workflowsPath });
    await send({ code });
  } catch (error) {
    await send({ error: error instanceof Error ? error.message : String(error) });
  }
  process.disconnect();
}

const workflowsPath = process.argv[2];
if (process.send && workflowsPath && process.argv[1] === fileURLToPath(import.meta.url)) await bundleForParent(workflowsPath);
