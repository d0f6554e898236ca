/**
 * Imported first by the `bench` and `soak` commands. The service's code they run in their own process (the round
 * trips' local runtime, the soak's verifying start) logs through Powertools loggers, which read the level from the
 * process environment (`POWERTOOLS_LOG_LEVEL`), not from the runtime's `env`: without this, hundreds of INFO lines
 * drowned the commands' own output. A level the user set is kept. Warnings and errors still show.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
