// The API's two time formats, written once: metav1.Time (RFC 3339, seconds) for conditions and
// metav1.MicroTime (RFC 3339, microseconds) for events and leases. Always UTC.

function toDate(time: Date | string | number): Date {
  const date = time instanceof Date ? time : new Date(time);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid time ${String(time)}`);
  return date;
}

/** metav1.Time: RFC 3339 with seconds precision, e.g. `2026-01-02T03:04:05Z`. */
export function rfc3339(time: Date | string | number): string {
  return toDate(time).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** metav1.MicroTime: RFC 3339 with microseconds, e.g. `2026-01-02T03:04:05.123000Z` (JavaScript has milliseconds). */
export function microTime(time: Date | string | number): string {
  return toDate(time).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
