/** Workers in tests log only errors (failing activities in tests are expected, not news), so a failing test's output stays readable. */
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger(process.env.COURIER_TEST_LOG_LEVEL === 'WARN' ? 'WARN' : 'ERROR') });
