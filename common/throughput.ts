/**
 * What bounds a job's work in flight: not worker slots but downloads. A computer holds one of its relay's
 * download slots (or one of the managing server's, when it has no relay) from the moment its install order
 * is sent until it reports the download over; installing costs the managing server nothing. A job may set
 * its own bounds (POST /jobs `downloadsPerRelay`, `serverDownloads`); these are the defaults.
 */

/** Computers of one job downloading from one relay at once. */
export const DEFAULT_DOWNLOADS_PER_RELAY = 100;
/** Computers of one job downloading from the managing server itself at once. */
export const DEFAULT_SERVER_DOWNLOADS = 50;
/** Largest bound a job may ask for. */
export const MAX_DOWNLOAD_SLOTS = 10_000;
