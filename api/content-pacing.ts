/**
 * Which bandwidth limits (common/bandwidth.ts) a download of package content goes through: every agent's
 * through the managing server's (COURIER_SERVER_BANDWIDTH_LIMIT), a relay's also through its own (PATCH
 * /relays/:id), read at each download so a change applies to the next one. Admins' downloads are not paced.
 */
import { BandwidthLimit } from '../common/bandwidth.js';
import type { Caller } from './auth.js';
import type { AppDependencies } from './dependencies.js';
import { relayBandwidthLimit } from './services/relay-settings.js';

export class ContentPacing {
  private readonly server: BandwidthLimit | undefined;
  /** One limit per relay, shared by its downloads at once; replaced when its rate changes. */
  private readonly relays = new Map<string, BandwidthLimit>();

  constructor(
    private readonly db: AppDependencies['db'],
    serverBytesPerSecond: number,
  ) {
    this.server = serverBytesPerSecond > 0 ? new BandwidthLimit(serverBytesPerSecond) : undefined;
  }

  async limitsFor(caller: Caller): Promise<BandwidthLimit[]> {
    if (caller.role === 'admin') return [];
    const limits = this.server ? [this.server] : [];
    if (caller.role === 'relay') {
      const rate = await relayBandwidthLimit(this.db, caller.agentId);
      if (rate !== null) limits.push(this.relayLimit(caller.agentId, rate));
    }
    return limits;
  }

  private relayLimit(relayId: string, bytesPerSecond: number): BandwidthLimit {
    let limit = this.relays.get(relayId);
    if (limit?.bytesPerSecond !== bytesPerSecond) {
      limit = new BandwidthLimit(bytesPerSecond);
      this.relays.set(relayId, limit);
    }
    return limit;
  }
}
