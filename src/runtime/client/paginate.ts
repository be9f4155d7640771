// The pagination loop of a list: ask for the next page with the last page's `continue` token
// until the server returns none. One loop for the client's listAll and the reflector's list.
import type { KubeObject, ObjectList } from '../object.ts';

/**
 * Every page of a list, fetched in order by `page(continueToken)` (undefined for the first).
 * Returns all items under the last page's metadata: its resourceVersion is the list's, the
 * version a watch continues from.
 */
export async function listAllPages<T extends KubeObject>(page: (cont: string | undefined) => Promise<ObjectList<T>>): Promise<ObjectList<T>> {
  const items: T[] = [];
  let last: ObjectList<T>;
  let cont: string | undefined;
  do {
    last = await page(cont);
    // A metadata-only list of an empty collection carries `items: null`.
    items.push(...(last.items ?? []));
    cont = last.metadata.continue || undefined;
  } while (cont);
  return { ...last, items };
}
