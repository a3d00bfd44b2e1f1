-- Upkeep under steady churn (SPEC §9.1). Nothing to set per table on SQLite: rows are updated in
-- place, and a deleted row's space is reused by the next insert. What keeps the file compact
-- cannot run inside this migration's transaction, so it lives elsewhere:
--   * auto_vacuum = INCREMENTAL is set on a new file before its first table
--     (Runner.open, sqlite/runner.py); a file made before that is converted by `ats db vacuum`;
--   * the server's upkeep (sqlite/upkeep.py ``tidy``) returns free pages to the file system in
--     small ``PRAGMA incremental_vacuum`` steps, runs ``PRAGMA optimize`` every few hours and on
--     close, and truncates the WAL when the server is idle.
SELECT 1;
