/** Workers in tests log only warnings and errors, so a failing test's output stays readable. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
