/**
 * Every item of a paged Query or Scan: DynamoDB returns at most 1 MB a page, and a page with `LastEvaluatedKey` is never
 * the last, however few items it holds.
 */
export async function allItems<T>(
  fetchPage: (exclusiveStartKey: Record<string, unknown> | undefined) => Promise<{
    Items?: Record<string, unknown>[] | undefined;
    LastEvaluatedKey?: Record<string, unknown> | undefined;
  }>,
): Promise<T[]> {
  const items: T[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await fetchPage(startKey);
    items.push(...((page.Items ?? []) as T[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
