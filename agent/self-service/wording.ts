/**
 * What the self-service page says about an offer. The server renders the first view and every refresh
 * carries these texts too, so the page's words live here only and the page's script stays generic.
 */
import type { OfferState, OfferView } from '../offers.js';

/** The texts shown for one offer. */
export interface OfferDisplay {
  /** The article's accessible name: package name and version. */
  label: string;
  size: string;
  /** When the offer closes, in this computer's locale and time zone. */
  deadline: string;
  /** Where the offer stands, in words. */
  status: string;
}

/** An offer with its texts, as `GET /api/offers` lists it. */
export type DisplayedOffer = OfferView & { display: OfferDisplay };

/** The agent runs on the user's own computer: its locale and time zone are the user's. */
const deadlineFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const statusWords: Record<OfferState, string> = {
  open: 'Available',
  choosing: 'Sending your choice…',
  installing: 'Installing…',
  installed: 'Installed',
  failed: 'Install failed',
  declined: 'Declined',
  expired: 'Expired',
};

const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];

/** Sizes as people read them: `840 bytes`, `1.5 MB`, `12 GB` (1024-based, as desktop systems show them). */
function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return bytes === 1 ? '1 byte' : `${bytes} bytes`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The status line: failures say why, installs say how far they are. */
function statusText(offer: OfferView): string {
  const words = statusWords[offer.state];
  if (offer.state === 'failed') return `${words}: ${offer.detail ?? 'no reason was given'}`;
  if (offer.state === 'installing' && offer.detail) return `${words} (${offer.detail})`;
  return words;
}

/** Adds the page's texts to an offer. */
export function displayed(offer: OfferView): DisplayedOffer {
  return {
    ...offer,
    display: {
      label: `${offer.name} ${offer.version}`,
      size: humanSize(offer.size),
      deadline: deadlineFormat.format(new Date(offer.deadline)),
      status: statusText(offer),
    },
  };
}

