import { ConfigError } from '#shared/config';
import { DataDirInUseError } from './data-dir-lock.ts';
import { PortUnavailableError } from './server.ts';
import { ThreadCallError } from './threads/rpc.ts';

/**
 * What stops `npm start`, as the one line it prints (no stack) and its exit code: a setting (78, EX_CONFIG), the data
 * directory held by another instance or the port taken (1), a local file that cannot be read or written (1); undefined
 * for anything else, which is a fault of the service and keeps its stack.
 */
export function startProblem(error: unknown): { message: string; exitCode: number } | undefined {
  // By name too: a setting refused on the workflow thread arrives as a ThreadCallError named after the error.
  if (error instanceof ConfigError || (error instanceof ThreadCallError && error.name === 'ConfigError')) {
    return { message: error.message, exitCode: 78 };
  }
  if (error instanceof DataDirInUseError || error instanceof PortUnavailableError) {
    return { message: error.message, exitCode: 1 };
  }
  // A local file or directory the service cannot read or write (DATA_DIR, the secrets file): which, and why.
  const { code, syscall, path } = (error ?? {}) as NodeJS.ErrnoException;
  if (typeof code === 'string' && typeof path === 'string') {
    return {
      message: `Cannot ${syscall ?? 'use'} ${path}: ${code} (check DATA_DIR and LOCAL_SECRETS_FILE)`,
      exitCode: 1,
    };
  }
  return undefined;
}
