-- Per-table autovacuum for steady churn (SPEC §9.1: tables and indexes stay within ~2× of their
-- live size). The server defaults (vacuum after 20 % of a table is dead, analyze after 10 %) let
-- a large table carry hundreds of thousands of dead rows and a small hot one grow for minutes.
-- Autovacuum wakes once a minute at most (a server setting), so the store's own upkeep
-- (``tidy``, postgres/upkeep.py) vacuums a hot table between wakes; these settings make
-- autovacuum do the same when no ATS server runs, and keep the planner's statistics current.
--
-- fillfactor leaves room on each page for HOT updates (a new row version on the same page, no
-- index entry; pruned without VACUUM). It only pays where updates touch no indexed column:
-- feed_counts (n) and feed_clock (last_id). A task's status is indexed, so its updates are not
-- HOT; tasks keeps fillfactor 80 from 0001 so a claim's new version usually lands on its page.

-- tasks: claims and completes leave two dead versions per task, at the head of the pending
-- index (0001 already set scale 0.01 / threshold 1000 / no cost delay).
ALTER TABLE tasks SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
                       autovacuum_vacuum_insert_scale_factor = 0.05);

-- events: appended on every change, deleted from the head by retention. Vacuuming inserts early
-- keeps the visibility map set, so index-only scans (counts, log reads) stay index-only.
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
                        autovacuum_vacuum_insert_scale_factor = 0.05,
                        autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);

-- messages and task_deps: appended, deleted with their task.
ALTER TABLE messages SET (autovacuum_vacuum_scale_factor = 0.05,
                          autovacuum_vacuum_insert_scale_factor = 0.05,
                          autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE task_deps SET (autovacuum_vacuum_scale_factor = 0.05,
                           autovacuum_analyze_scale_factor = 0.05);

-- feed_events: a queue — appended at the tail, trimmed at the head to the retention. Its live
-- size is small and fixed, so the dead rows a trim leaves are soon as many as the live ones.
ALTER TABLE feed_events SET (autovacuum_vacuum_scale_factor = 0.1,
                             autovacuum_vacuum_threshold = 500,
                             autovacuum_vacuum_insert_scale_factor = 0.1,
                             autovacuum_analyze_scale_factor = 0.1,
                             autovacuum_vacuum_cost_delay = 0);

-- feed_counts and feed_clock: a handful of rows updated by every publish (HOT; see above).
ALTER TABLE feed_counts SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
                             autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE feed_clock SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
                            autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0);

-- The count ledger (0005): totals and hourly rollups are updated in place by every fold (HOT:
-- their counters are not indexed); the delta ledgers are emptied by every fold (0005 made their
-- autovacuum eager). events_trimmed (0003): one row, updated by every trim of the event log.
ALTER TABLE task_counts SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.1,
                             autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE task_hours SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.1,
                            autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE events_trimmed SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
                                autovacuum_vacuum_threshold = 200);
