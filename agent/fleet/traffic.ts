/**
 * Bytes of package content the fleet's agents downloaded, counted in the fetch they are given (the
 * agents' own download code stays as it is): computers from relays, computers from the managing server,
 * and relays from the managing server. A benchmark reads server egress and relay offload from these. Also
 * the most computers that ever downloaded from one relay at once, which a job's download bound must hold.
 */
import type { FetchLike } from '../deps.js';
import type { AgentRole } from '../enrolment.js';

/** Content downloads by who fetched from where, in bytes. */
export interface ContentBytes {
  computersFromRelays: number;
  computersFromServer: number;
  relaysFromServer: number;
}

const CONTENT_PATH = /\/packages\/[^/]+\/content$/;
/** The agent a fleet URL belongs to: `<listener>/agents/<name>/...`. */
const AGENT_NAME = /\/agents\/([^/]+)\//;

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

  /** One fetch for all agents of a role: nothing per agent, so a large fleet costs no extra memory here. */
  fetchFor(role: AgentRole): FetchLike {
    return async (input, init) => {
      const response = await this.fetch(input, init);
      const { pathname } = new URL(input);
      if (!response.body || !response.ok || !CONTENT_PATH.test(pathname)) return response;
      const counter: keyof ContentBytes =
        role === 'relay' ? 'relaysFromServer' : this.isRelayUrl(input) ? 'computersFromRelays' : 'computersFromServer';
      const relay = counter === 'computersFromRelays' ? AGENT_NAME.exec(pathname)?.[1] : undefined;
      if (relay) this.downloadStarts(relay);
      const counted = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, controller) => {
            this.bytes[counter] += chunk.byteLength;
            controller.enqueue(chunk);
          },
          flush: () => {
            if (relay) this.downloading.set(relay, (this.downloading.get(relay) ?? 1) - 1);
          },
        }),
      );
      return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
    };
  }

  private downloadStarts(relay: string): void {
    const now = (this.downloading.get(relay) ?? 0) + 1;
    this.downloading.set(relay, now);
    if (now > (this.peakDownloads.get(relay) ?? 0)) this.peakDownloads.set(relay, now);
  }
}
