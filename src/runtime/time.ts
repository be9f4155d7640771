// The API's two time formats, written once: metav1.Time (RFC 3339, seconds) for conditions and
// metav1.MicroTime (RFC 3339, microseconds) for events and leases. Always UTC.
//
// Formatted from the UTC fields, not with Date#toISOString: V8 works out the local time-zone
// offset for every date string it renders, ISO ones included, and the first time it does, ICU
// loads its time-zone data and names (about 0.7 MiB of the process's memory, for an offset it then
// throws away). Log timestamps, conditions, events and leases all go through here.

function toMs(time: Date | string | number): number {
  const ms = time instanceof Date ? time.getTime() : typeof time === 'number' ? time : Date.parse(time);
  if (Number.isNaN(ms)) throw new Error(`invalid time ${String(time)}`);
  return ms;
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));
const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));
const year4 = (d: Date) => String(d.getUTCFullYear()).padStart(4, '0');
/** `hh:mm:ss` in UTC, as both formats write it. */
const clock = (d: Date) => `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;

/** First and last instants of years 0000-9999, the range RFC 3339 (and Go's time.MarshalJSON) can write. */
const MIN_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * RFC 3339 in UTC with `digits` fractional digits (0, 3 or 6; JavaScript has milliseconds, so the
 * last three of 6 are zeros): what Date#toISOString writes for digits 3. Throws for a time outside
 * years 0000-9999, which RFC 3339 cannot write.
 */
export function isoTime(time: Date | string | number, digits: 0 | 3 | 6 = 3): string {
  const ms = toMs(time);
  if (ms < MIN_MS || ms > MAX_MS) throw new Error(`time ${String(time)} is outside years 0000-9999`);
  const d = new Date(ms);
  const head = `${year4(d)}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${clock(d)}`;
  if (digits === 0) return `${head}Z`;
  const fraction = pad3(d.getUTCMilliseconds());
  return digits === 3 ? `${head}.${fraction}Z` : `${head}.${fraction}000Z`;
}

/** metav1.Time: RFC 3339 with seconds precision, e.g. `2026-01-02T03:04:05Z`. */
export function rfc3339(time: Date | string | number): string {
  return isoTime(time, 0);
}

/** metav1.MicroTime: RFC 3339 with microseconds, e.g. `2026-01-02T03:04:05.123000Z` (JavaScript has milliseconds). */
export function microTime(time: Date | string | number): string {
  return isoTime(time, 6);
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** HTTP's IMF-fixdate, e.g. `Fri, 02 Jan 2026 03:04:05 GMT`: Date#toUTCString, without its local-time lookup. */
export function httpDate(time: Date | number): string {
  const d = new Date(toMs(time));
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${year4(d)} ${clock(d)} GMT`;
}
