/** Runs `act` and returns what it threw (or undefined), so a test can assert on the error itself. */
export function thrown(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  return undefined;
}
