/**
 * The offer book of a computer: what its self-service page lists. Offers and withdrawals are ordinary
 * orders in the orders book (so they are keyed, persisted and answered like any other); this adds the
 * user's choices, kept in the data folder once the managing server has taken them, and works out where each
 * offer stands from the offer, its choice, and the install order the same job sends after an Install.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CancelOrder, OfferOrder, OrderStatus, WithdrawOrder } from '../common/orders.js';
import type { OfferChoice } from '../common/workflows.js';
import type { Clock, Log } from './deps.js';
import { readJsonFolder, safeName, writeJsonAtomic } from './files.js';
import type { OrderRecord, OrdersBook, StatusUpdate } from './orders-book.js';

/** Where an offer stands, as the page shows it. */
export type OfferState = 'open' | 'choosing' | 'installing' | 'installed' | 'failed' | 'declined' | 'expired';

/** One offer as `GET /api/offers` lists it. */
export interface OfferView {
  jobId: string;
  packageId: string;
  name: string;
  version: string;
  /** Bytes, from the signed manifest. */
  size: number;
  deadline: string;
  state: OfferState;
  /** What the install is doing, or why it failed. */
  detail?: string;
}

/** An HTTP answer handed to the page unchanged: the status code and the JSON body. */
export interface ChoiceAnswer {
  status: number;
  body: unknown;
}

/** Passes a user's choice to the managing server and returns its answer. */
export type ForwardChoice = (jobId: string, choice: OfferChoice) => Promise<ChoiceAnswer>;

/** What the offer book needs. */
export interface OffersDeps {
  book: OrdersBook;
  clock: Clock;
  /** The folder choices are kept in (one file per job). */
  choicesDir: string;
  forward: ForwardChoice;
  log: Log;
}

/** A choice the managing server accepted. */
interface RecordedChoice {
  jobId: string;
  choice: OfferChoice;
  chosenAt: string;
}

/** The offers of one computer and its user's choices. */
export class Offers {
  private readonly choices = new Map<string, RecordedChoice>();
  /** Jobs whose choice is on its way to the managing server (not kept: a restart drops the request too). */
  private readonly choosing = new Set<string>();

  constructor(private readonly deps: OffersDeps) {}

  /** Reads the recorded choices (at start). */
  async load(): Promise<void> {
    await mkdir(this.deps.choicesDir, { recursive: true });
    for (const recorded of (await readJsonFolder<RecordedChoice>(this.deps.choicesDir, this.deps.log)).values()) {
      this.choices.set(recorded.jobId, recorded);
    }
  }

  /**
   * First receipt of an offer or a withdrawal: both end at once, the page does the rest. An offer of a job
   * cancelled before it arrived is never shown.
   */
  admit(order: OfferOrder | WithdrawOrder): Promise<StatusUpdate> {
    if (order.kind === 'offer') {
      if (this.deps.book.find(order.jobId, 'cancel', order.package.manifest.packageId)) {
        return Promise.resolve({ state: 'withdrawn', detail: 'the managing server cancelled this job before the offer arrived' });
      }
      return Promise.resolve({ state: 'offered', detail: `on the self-service page until ${order.deadline}` });
    }
    const offered = this.deps.book.find(order.jobId, 'offer', order.packageId) !== undefined;
    const detail = offered ? 'the offer was taken off the self-service page' : 'this computer had no offer from this job';
    return Promise.resolve({ state: 'withdrawn', detail });
  }

  /**
   * A cancel of the offer's job: the offer leaves the page as on a withdrawal (the page finds the cancel
   * in the book), and its record says so. Returns the offer's record; undefined when the job sent none.
   */
  async cancel(order: CancelOrder): Promise<OrderRecord | undefined> {
    const offer = this.deps.book.find(order.jobId, 'offer', order.packageId);
    if (offer && offer.status.state !== 'withdrawn') {
      await this.deps.book.update(offer.order, { state: 'withdrawn', detail: 'the job was cancelled; the offer was taken off the self-service page' });
    }
    return offer;
  }

  /**
   * The offers to show, the most recently received first. An offer whose deadline passed without a choice
   * leaves the page: there is nothing left to do with it.
   */
  list(): OfferView[] {
    return this.all().filter((view) => view.state !== 'expired');
  }

  /** Every offer not withdrawn, expired ones included. */
  private all(): OfferView[] {
    return this.deps.book
      .ofKind('offer')
      .sort((a, b) => Date.parse(b.status.updatedAt) - Date.parse(a.status.updatedAt))
      .map((record) => this.view(record))
      .filter((view) => view !== undefined);
  }

  /**
   * Passes the user's choice on and records it once the managing server has taken it (202). Every other
   * answer is returned as it came: the server decides whether a choice is still possible, and the page
   * shows its reason. Answered here: 404 when this computer shows no offer of that job, and 409 `expired`
   * (the server's code) past the deadline the signed offer states, which no answer of the server can change.
   */
  async choose(jobId: string, choice: OfferChoice): Promise<ChoiceAnswer> {
    const offer = this.all().find((candidate) => candidate.jobId === jobId);
    if (!offer) {
      return { status: 404, body: { error: { code: 'not_found', message: `this computer has no offer from job ${jobId}` } } };
    }
    if (offer.state === 'expired') {
      const message = `the offer expired at ${offer.deadline}; no choice can be made any more`;
      return { status: 409, body: { error: { code: 'expired', message } } };
    }
    this.choosing.add(jobId);
    try {
      const answer = await this.deps.forward(jobId, choice);
      if (answer.status === 202) await this.record({ jobId, choice, chosenAt: this.deps.clock.now().toISOString() });
      return answer;
    } finally {
      this.choosing.delete(jobId);
    }
  }

  private async record(recorded: RecordedChoice): Promise<void> {
    await writeJsonAtomic(join(this.deps.choicesDir, `${safeName(recorded.jobId)}.json`), recorded);
    this.choices.set(recorded.jobId, recorded);
  }

  /**
   * The offer as the page shows it; undefined once withdrawn or cancelled (unless the job's install had
   * begun and was not cancelled).
   */
  private view(record: OrderRecord): OfferView | undefined {
    const order = record.order as OfferOrder;
    const { manifest } = order.package;
    const { book } = this.deps;
    const install = book.find(order.jobId, 'install', manifest.packageId);
    const takenBack = book.find(order.jobId, 'withdraw', manifest.packageId) ?? book.find(order.jobId, 'cancel', manifest.packageId);
    if (takenBack && (!install || install.status.state === 'cancelled')) return undefined;
    const { jobId, deadline } = order;
    const { packageId, name, version, size } = manifest;
    return { jobId, packageId, name, version, size, deadline, ...this.standing(order, install?.status) };
  }

  /** The install's own status wins: it is what really happens, whatever this agent remembers of the choice. */
  private standing(order: OfferOrder, install: OrderStatus | undefined): Pick<OfferView, 'state' | 'detail'> {
    if (install) return installStanding(install, order.package.manifest.size);
    const chosen = this.choices.get(order.jobId)?.choice;
    if (chosen === 'install') return { state: 'installing', detail: 'waiting for the managing server to start the install' };
    if (chosen === 'decline') return { state: 'declined' };
    if (this.choosing.has(order.jobId)) return { state: 'choosing' };
    if (this.deps.clock.now().getTime() >= Date.parse(order.deadline)) return { state: 'expired' };
    return { state: 'open' };
  }
}

function installStanding(status: OrderStatus, size: number): Pick<OfferView, 'state' | 'detail'> {
  switch (status.state) {
    case 'downloading': {
      const percent = size === 0 ? 100 : Math.floor(((status.bytes ?? 0) * 100) / size);
      return { state: 'installing', detail: `downloading, ${percent}%` };
    }
    case 'waiting_for_window':
      return { state: 'installing', detail: 'downloaded; installs when the maintenance window opens' };
    case 'installing':
      return { state: 'installing', detail: 'running the installer' };
    case 'installed':
      return { state: 'installed' };
    default:
      return { state: 'failed', detail: status.detail ?? status.state.replaceAll('_', ' ') };
  }
}
