import { readFile } from 'node:fs/promises';

/**
 * What a soak run keeps of a request that ended neither completed nor canceled, so that one failing run in many can be
 * looked into afterwards: the service's warnings about that request (each failed task invocation with its error's
 * name and message, and each kill and restart between them, from `service.log`). Error messages carry no identifiers
 * (`#shared/errors`), so the lines are safe to print whole.
 */

export interface TaskFailure {
  /** When it was logged (ISO 8601). */
  at: string;
  task: string;
  error: string;
}

/**
 * The failed task invocations of each of `requestIds`, in the order logged, from the service's log (JSON lines, one
 * `===== start n at … =====` line per start of the service): a start is shown as a `restart` entry in every request's
 * list, so a failure can be placed before or after a kill.
 */
export async function taskFailuresOf(
  serviceLog: string,
  requestIds: readonly string[],
): Promise<Record<string, TaskFailure[]>> {
  const wanted = new Set(requestIds);
  const found: Record<string, TaskFailure[]> = Object.fromEntries(requestIds.map((id) => [id, []]));
  if (wanted.size === 0) return found;
  const text = await readFile(serviceLog, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const start = /^===== start (\d+) at (\S+) =====$/.exec(line);
    if (start) {
      for (const id of wanted) found[id]?.push({ at: start[2] as string, task: `restart ${start[1]}`, error: '' });
      continue;
    }
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const id = entry.correlation_id ?? entry.requestId;
    if (typeof id !== 'string' || !wanted.has(id) || entry.level === 'INFO') continue;
    found[id]?.push({
      at: String(entry.timestamp ?? ''),
      task: String(entry.task ?? entry.message ?? ''),
      error: `${String(entry.errorName ?? entry.message ?? '')}: ${String(entry.errorMessage ?? '')}`,
    });
  }
  // Restarts matter from the one before a request's first failure on: the earlier ones are left out.
  for (const id of wanted) {
    const list = found[id] ?? [];
    const first = list.findIndex((f) => !f.task.startsWith('restart '));
    found[id] = first < 0 ? [] : list.slice(Math.max(0, first - 1));
  }
  return found;
}
