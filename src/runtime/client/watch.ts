// Turns a streaming watch response into an async generator of events. Errors inside the
// stream (an ERROR event carrying a Status, e.g. 410 Gone) are thrown as typed ApiErrors.
import type { KubeObject } from '../object.ts';
import { apiErrorFrom, type Status } from './errors.ts';
import type { HttpResponse } from './transport.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  object: T;
}

export async function* watchStream<T extends KubeObject>(
  open: (signal: AbortSignal) => Promise<HttpResponse>,
  path: string,
  outer: AbortSignal | undefined,
  idleTimeoutMs: number,
): AsyncGenerator<WatchEvent<T>> {
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  // A watch that receives nothing for longer than its server timeout is on a dead connection.
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`watch ${path}: no data for ${idleTimeoutMs} ms`)), idleTimeoutMs);
    idle.unref();
  };
  try {
    armIdle();
    const response = await open(abort.signal);
    if (response.httpStatusCode !== 200) {
      const text = await response.body.text();
      let status: Status;
      try { status = JSON.parse(text) as Status; } catch { status = { message: text.slice(0, 500) }; }
      throw apiErrorFrom(response.httpStatusCode, status, 'WATCH', path);
    }
    const stream = response.body.stream();
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of stream) {
      armIdle();
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        const event = JSON.parse(line) as { type: string; object: unknown };
        if (event.type === 'ERROR') {
          const status = event.object as Status;
          throw apiErrorFrom(status.code ?? 500, status, 'WATCH', path);
        }
        yield event as WatchEvent<T>;
      }
    }
  } catch (err) {
    if (outer?.aborted) return;
    throw abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason : err;
  } finally {
    clearTimeout(idle);
    outer?.removeEventListener('abort', onOuterAbort);
    abort.abort();
  }
}
