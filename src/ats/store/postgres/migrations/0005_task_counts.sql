-- Exact task counts without scanning `tasks` (SPEC §9.1): stats, project counts and the `count`
-- of simple list filters read these instead of count(*) over history.
--
-- Why a ledger and not one counter row per (project, status): every claim would then update the
-- same hot row and hold its lock until commit, serialising all claimers. Instead, statement-level
-- triggers on `tasks` APPEND signed deltas (one row per key a statement changed, aggregated over
-- the statement's transition tables) in the writer's own transaction; nothing is updated in place,
-- so writers never wait on each other here. `fold_task_counts` (the background upkeep, one process
-- at a time) moves committed deltas into the totals in one transaction. A reader sums totals plus
-- pending deltas in ONE statement, i.e. one snapshot: a fold is either wholly visible or not at
-- all, so the sum is exact at every moment, with any number of server processes.
--
-- Keys: (project, status, channel, type) — the three families the API needs (by status, by
-- channel and status, by type and status) are sums over this one, and a change costs one delta
-- row per key instead of three. `done_ms` is the sum of completed_at - created_at over the rows
-- of the key that are 'completed' (the running sum behind avg_completion_seconds).
-- Hourly rollups: per (project, hour since the epoch) how many live rows were created in that
-- hour, and how many 'completed' rows completed in it (the stats' `recent` block).

CREATE TABLE task_counts (
    project_id bigint NOT NULL,
    status     text NOT NULL,
    channel    text NOT NULL,
    type       text NOT NULL,
    n          bigint NOT NULL,
    done_ms    bigint NOT NULL,
    PRIMARY KEY (project_id, status, channel, type)
);

-- The ledger: one table for both kinds of delta, so that a trigger firing appends with ONE
-- statement. A row with `hour` NULL is a count delta; otherwise an hourly delta (its
-- status/channel/type are NULL).
CREATE TABLE task_count_deltas (
    project_id bigint NOT NULL,
    status     text,
    channel    text,
    type       text,
    n          bigint NOT NULL DEFAULT 0,
    done_ms    bigint NOT NULL DEFAULT 0,
    hour       bigint,
    created    bigint NOT NULL DEFAULT 0,
    completed  bigint NOT NULL DEFAULT 0
);

CREATE TABLE task_hours (
    project_id bigint NOT NULL,
    hour       bigint NOT NULL,
    created    bigint NOT NULL,
    completed  bigint NOT NULL,
    PRIMARY KEY (project_id, hour)
);
CREATE INDEX task_hours_hour ON task_hours (hour);

-- The ledger is emptied by every fold: vacuum it eagerly so readers do not wade through dead
-- row versions.
ALTER TABLE task_count_deltas SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);

-- What readers query: totals plus pending deltas (sum over a key; rows may net to zero).
CREATE VIEW task_count_view AS
    SELECT project_id, status, channel, type, n, done_ms FROM task_counts
    UNION ALL
    SELECT project_id, status, channel, type, n, done_ms FROM task_count_deltas
     WHERE hour IS NULL;

CREATE VIEW task_hour_view AS
    SELECT project_id, hour, created, completed FROM task_hours
    UNION ALL
    SELECT project_id, hour, created, completed FROM task_count_deltas WHERE hour IS NOT NULL;

-- Each row contributes +1 as it is now (new_rows) and -1 as it was (old_rows), to its
-- (project, status, channel, type) and to the hours of its creation and (if completed) completion.
CREATE FUNCTION task_count_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO task_count_deltas
               (project_id, status, channel, type, n, done_ms, hour, created, completed)
        SELECT project_id, status, channel, type, count(*),
               coalesce(sum(completed_at - created_at) FILTER (WHERE status = 'completed'), 0),
               NULL, 0, 0
          FROM new_rows GROUP BY project_id, status, channel, type
        UNION ALL
        SELECT project_id, NULL, NULL, NULL, 0, 0, hour, sum(c), sum(d) FROM (
            SELECT project_id, created_at / 3600000 AS hour, 1 AS c, 0 AS d FROM new_rows
            UNION ALL
            SELECT project_id, completed_at / 3600000, 0, 1 FROM new_rows
             WHERE status = 'completed' AND completed_at IS NOT NULL
        ) h GROUP BY project_id, hour;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO task_count_deltas
               (project_id, status, channel, type, n, done_ms, hour, created, completed)
        SELECT project_id, status, channel, type, -count(*),
               -coalesce(sum(completed_at - created_at) FILTER (WHERE status = 'completed'), 0),
               NULL, 0, 0
          FROM old_rows GROUP BY project_id, status, channel, type
        UNION ALL
        SELECT project_id, NULL, NULL, NULL, 0, 0, hour, sum(c), sum(d) FROM (
            SELECT project_id, created_at / 3600000 AS hour, -1 AS c, 0 AS d FROM old_rows
            UNION ALL
            SELECT project_id, completed_at / 3600000, 0, -1 FROM old_rows
             WHERE status = 'completed' AND completed_at IS NOT NULL
        ) h GROUP BY project_id, hour;
    ELSE
        -- Most updates (a lease renewal, a title edit) change no key: the sums net to zero and
        -- nothing is appended.
        INSERT INTO task_count_deltas
               (project_id, status, channel, type, n, done_ms, hour, created, completed)
        SELECT project_id, status, channel, type, sum(n), sum(done_ms), NULL, 0, 0 FROM (
            SELECT project_id, status, channel, type, -1 AS n,
                   CASE WHEN status = 'completed'
                        THEN -coalesce(completed_at - created_at, 0) ELSE 0 END AS done_ms
              FROM old_rows
            UNION ALL
            SELECT project_id, status, channel, type, 1,
                   CASE WHEN status = 'completed'
                        THEN coalesce(completed_at - created_at, 0) ELSE 0 END
              FROM new_rows
        ) d GROUP BY project_id, status, channel, type
        HAVING sum(n) <> 0 OR sum(done_ms) <> 0
        UNION ALL
        SELECT project_id, NULL, NULL, NULL, 0, 0, hour, sum(c), sum(d) FROM (
            SELECT project_id, created_at / 3600000 AS hour, -1 AS c, 0 AS d FROM old_rows
            UNION ALL
            SELECT project_id, completed_at / 3600000, 0, -1 FROM old_rows
             WHERE status = 'completed' AND completed_at IS NOT NULL
            UNION ALL
            SELECT project_id, created_at / 3600000, 1, 0 FROM new_rows
            UNION ALL
            SELECT project_id, completed_at / 3600000, 0, 1 FROM new_rows
             WHERE status = 'completed' AND completed_at IS NOT NULL
        ) h GROUP BY project_id, hour
        HAVING sum(c) <> 0 OR sum(d) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_count_ledger();
CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_count_ledger();
CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_count_ledger();

-- Backfill from the rows already there (the migration runs in one transaction with the triggers
-- created above, so no write slips between).
INSERT INTO task_counts (project_id, status, channel, type, n, done_ms)
SELECT project_id, status, channel, type, count(*),
       coalesce(sum(completed_at - created_at) FILTER (WHERE status = 'completed'), 0)
  FROM tasks GROUP BY project_id, status, channel, type;

INSERT INTO task_hours (project_id, hour, created, completed)
SELECT project_id, hour, sum(c), sum(d) FROM (
    SELECT project_id, created_at / 3600000 AS hour, 1 AS c, 0 AS d FROM tasks
    UNION ALL
    SELECT project_id, completed_at / 3600000, 0, 1 FROM tasks
     WHERE status = 'completed' AND completed_at IS NOT NULL
) h GROUP BY project_id, hour;
