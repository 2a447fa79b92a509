/**
 * The worker's Prometheus metrics, served on COURIER_WORKER_METRICS_HOST:PORT (default 127.0.0.1:9464)
 * at /metrics: Courier's own (order round trips to agents) and Node's process metrics from prom-client,
 * followed by the Temporal SDK's own (workflow and activity task latencies, slots, polls; prefixed
 * `temporal_`), which the SDK's core exports on a loopback port of its own that this endpoint reads and
 * passes on, so that one scrape sees the whole worker.
 */
import { createServer, type Server } from 'node:http';
import type { MetricsExporterConfig } from '@temporalio/worker';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { errorMessage } from '../common/errors.js';
import { freePort } from '../common/ports.js';
import type { OrderRoundTrip } from '../activities/agent-client.js';

/** Seconds an agent takes to answer an order: a loopback answer is milliseconds, a timeout 15 s. */
const ROUND_TRIP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly roundTrips: Histogram<'kind' | 'outcome'>;
  private sdkMetricsUrl: string | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.roundTrips = new Histogram({
      name: 'courier_order_round_trip_seconds',
      help: 'How long agents took to answer orders (and repeated orders, which ask for their status), by kind and outcome.',
      labelNames: ['kind', 'outcome'],
      buckets: ROUND_TRIP_BUCKETS,
      registers: [this.registry],
    });
  }

  /** For AgentClient: one order's round trip. */
  readonly orderRoundTrip = ({ kind, outcome, seconds }: OrderRoundTrip): void => {
    this.roundTrips.observe({ kind, outcome }, seconds);
  };

  /**
   * The SDK runtime's metrics options: its Prometheus exporter on a loopback port, which scrape() reads.
   * For Runtime.install, before the worker's first connection creates the runtime.
   */
  async sdkMetricsOptions(): Promise<MetricsExporterConfig> {
    // The SDK's exporter cannot be asked for port 0 and tell which port it took.
    const bindAddress = `127.0.0.1:${await freePort()}`;
    this.sdkMetricsUrl = `http://${bindAddress}/metrics`;
    return { prometheus: { bindAddress } };
  }

  /** Serves /metrics on `host:port`; rejects, saying why, when it cannot listen there. */
  serve({ host, port }: { host: string; port: number }): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n');
        return;
      }
      void this.scrape().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${errorMessage(error)}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once('error', (error) =>
        reject(new Error(`cannot serve the worker's metrics on ${host}:${port}: ${errorMessage(error)} (COURIER_WORKER_METRICS_PORT=0 serves none)`)),
      );
      server.listen(port, host, () => resolve(server));
    });
  }

  private async scrape(): Promise<string> {
    const own = await this.registry.metrics();
    if (!this.sdkMetricsUrl) return own;
    try {
      const response = await fetch(this.sdkMetricsUrl, { signal: AbortSignal.timeout(5000) });
      return `${own}\n${await response.text()}`;
    } catch (error) {
      // Courier's own figures are still worth a scrape when the SDK's exporter does not answer.
      return `${own}\n# the Temporal SDK's metrics could not be read: ${errorMessage(error).replaceAll('\n', ' ')}\n`;
    }
  }
}
