/**
 * Carries out offer choices as they arrive, a bounded number at once, while the batch goes on offering.
 * Every choice is taken once, whether it came as a signal or was read back from PostgreSQL (after a
 * continue-as-new, or at the deadline, when a choice recorded just in time may not have been signalled yet).
 */
import { condition, setHandler } from '@temporalio/workflow';
import { offerChoiceSignal, type OfferChoiceMessage } from '../common/workflows.js';
import { MAX_ATTEMPTS_PER_BATCH } from './attempt-round.js';

export class ChoiceFollower {
  private readonly queue: OfferChoiceMessage[] = [];
  private readonly taken = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private closed = false;
  private paused = false;
  /** How many choices have been carried out so far: the batch waits for this to move. */
  carriedOut = 0;

  /** Registers the signal handler at once: create it before the batch's first await, so no choice is dropped. */
  constructor(private readonly carryOut: (message: OfferChoiceMessage) => Promise<void>) {
    setHandler(offerChoiceSignal, (message) => this.add([message]));
  }

  /** Queues choices not taken yet; the api refuses a second choice, this guards retried signals and read-backs. */
  add(messages: readonly OfferChoiceMessage[]): void {
    for (const message of messages) {
      if (this.taken.has(message.computerId)) continue;
      this.taken.add(message.computerId);
      this.queue.push(message);
    }
  }

  /** Carries out choices until close() and every queued one has ended. */
  async follow(): Promise<void> {
    for (;;) {
      await condition(() => (this.queue.length > 0 && !this.paused && this.running.size < MAX_ATTEMPTS_PER_BATCH) || this.drained());
      if (this.drained()) break;
      const message = this.queue.shift() as OfferChoiceMessage;
      const run = this.carryOut(message).finally(() => {
        this.running.delete(run);
        this.carriedOut++;
      });
      this.running.add(run);
    }
    await Promise.all(this.running);
  }

  /** Starts nothing new and waits for what runs: the batch is about to continue as new. */
  async pause(): Promise<void> {
    this.paused = true;
    await condition(() => this.running.size === 0);
  }

  /** No more choices will come; follow() ends once the queue is empty. */
  close(): void {
    this.closed = true;
  }

  /** Nothing queued and nothing under way. */
  idle(): boolean {
    return this.queue.length === 0 && this.running.size === 0;
  }

  private drained(): boolean {
    return this.closed && this.queue.length === 0;
  }
}
