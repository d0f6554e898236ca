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

/**
 * Runs `task` over `items`, at most `concurrency` at once (DynamoDB has no batched Query; unbounded parallel queries
 * would only be throttled). Rejects with the first error, after the tasks under way have settled.
 */
export async function mapWithConcurrency<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
}
