/**
 * Workers in tests log only errors (failing activities in tests are expected, not news), so a failing
 * test's output stays readable. COURIER_TEST_LOG_LEVEL=WARN shows activity failures too, which is where a
 * workflow that seems stuck usually tells why.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger(process.env.COURIER_TEST_LOG_LEVEL === 'WARN' ? 'WARN' : 'ERROR') });
