/** Workers in tests log only errors (failing activities in tests are expected, not news), so a failing test's output stays readable. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('ERROR') });
