/**
 * Bytes of package content the fleet's agents downloaded (the agents' own code stays as it is): computers
 * from relays, counted as the fleet's relays serve them in full (floor runs included), and computers and
 * relays from the managing server, counted in the fetch they are given. A benchmark reads server egress
 * and relay offload from these. Also the most computers that ever downloaded from one relay at once, which
 * a job's download bound must hold.
 */
import type { ServerResponse } from 'node:http';
import type { FetchLike } from '../deps.js';
import type { AgentRole } from '../enrolment.js';

/** Content downloads by who fetched from where, in bytes. */
export interface ContentBytes {
  computersFromRelays: number;
  computersFromServer: number;
  relaysFromServer: number;
}

const CONTENT_PATH = /\/packages\/[^/]+\/content$/;

/** The fleet's download counters and the counting fetch of each role. */
export class Traffic {
  private readonly bytes: ContentBytes = { computersFromRelays: 0, computersFromServer: 0, relaysFromServer: 0 };
  /** Computers downloading from each relay now, and the most there ever were, by relay name. */
  private readonly downloading = new Map<string, number>();
  private readonly peakDownloads = new Map<string, number>();

  /** `isRelayUrl` tells a relay of this fleet from the managing server by a download's URL. */
  constructor(
    private readonly fetch: FetchLike,
    private readonly isRelayUrl: (url: string) => boolean,
  ) {}

  /** A copy of the counters. */
  totals(): ContentBytes {
    return { ...this.bytes };
  }

  /** Relay name → the most computers that downloaded from it at once so far. */
  peakDownloadsPerRelay(): Record<string, number> {
    return Object.fromEntries(this.peakDownloads);
  }

  /**
   * One fetch for all agents of a role: nothing per agent, so a large fleet costs no extra memory here.
   * Downloads from the managing server are counted as they stream in; those from the fleet's own relays
   * are counted by relayServes(), without a stream in between.
   */
  fetchFor(role: AgentRole): FetchLike {
    return async (input, init) => {
      const response = await this.fetch(input, init);
      if (!response.body || !response.ok || this.isRelayUrl(input) || !CONTENT_PATH.test(new URL(input).pathname)) return response;
      const counter: keyof ContentBytes = role === 'relay' ? 'relaysFromServer' : 'computersFromServer';
      const counted = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, controller) => {
            this.bytes[counter] += chunk.byteLength;
            controller.enqueue(chunk);
          },
        }),
      );
      return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }

  /** Counts a download relay `relay` is about to serve, until `response` ends; its bytes once sent in full. */
  relayServes(relay: string, response: ServerResponse): void {
    const now = (this.downloading.get(relay) ?? 0) + 1;
    this.downloading.set(relay, now);
    if (now > (this.peakDownloads.get(relay) ?? 0)) this.peakDownloads.set(relay, now);
    response.once('close', () => {
      this.downloading.set(relay, (this.downloading.get(relay) ?? 1) - 1);
      if (response.writableFinished && response.statusCode < 300) {
        this.bytes.computersFromRelays += Number(response.getHeader('content-length') ?? 0);
      }
    });
  }
}
