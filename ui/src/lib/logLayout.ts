// Fixed measures of the virtualised message log (MessageLog.svelte), shared with tests.

/** Height of a row not measured yet: a one-line bubble with its meta line. */
export const ROW_ESTIMATE = 64;
/** The fixed-height strip above the history ("load older" / "beginning"). */
export const LOG_HEADER = 44;
/** Space below the newest message. */
export const LOG_FOOTER = 8;
