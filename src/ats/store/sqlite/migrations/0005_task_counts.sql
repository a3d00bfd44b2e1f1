-- Exact task counts without scanning `tasks` (SPEC §9.1); the PostgreSQL migration of the same
-- name explains the tables. SQLite has one writer at a time, so the triggers add straight into
-- the totals: there is no lock to contend for, and no ledger to fold. The two views exist so that
-- both backends read through the same named queries.

CREATE TABLE task_counts (
    project_id INTEGER NOT NULL,
    status     TEXT NOT NULL,
    channel    TEXT NOT NULL,
    type       TEXT NOT NULL,
    n          INTEGER NOT NULL,
    done_ms    INTEGER NOT NULL,
    PRIMARY KEY (project_id, status, channel, type)
) WITHOUT ROWID;

CREATE TABLE task_hours (
    project_id INTEGER NOT NULL,
    hour       INTEGER NOT NULL,
    created    INTEGER NOT NULL,
    completed  INTEGER NOT NULL,
    PRIMARY KEY (project_id, hour)
) WITHOUT ROWID;

CREATE VIEW task_count_view AS
    SELECT project_id, status, channel, type, n, done_ms FROM task_counts;

CREATE VIEW task_hour_view AS
    SELECT project_id, hour, created, completed FROM task_hours;

CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks
BEGIN
    INSERT INTO task_counts (project_id, status, channel, type, n, done_ms)
    VALUES (NEW.project_id, NEW.status, NEW.channel, NEW.type, 1,
            CASE WHEN NEW.status = 'completed'
                 THEN coalesce(NEW.completed_at - NEW.created_at, 0) ELSE 0 END)
    ON CONFLICT (project_id, status, channel, type)
    DO UPDATE SET n = n + excluded.n, done_ms = done_ms + excluded.done_ms;
    INSERT INTO task_hours (project_id, hour, created, completed)
    VALUES (NEW.project_id, NEW.created_at / 3600000, 1, 0)
    ON CONFLICT (project_id, hour) DO UPDATE SET created = created + 1;
    INSERT INTO task_hours (project_id, hour, created, completed)
    SELECT NEW.project_id, NEW.completed_at / 3600000, 0, 1
     WHERE NEW.status = 'completed' AND NEW.completed_at IS NOT NULL
    ON CONFLICT (project_id, hour) DO UPDATE SET completed = completed + 1;
END;

CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks
BEGIN
    UPDATE task_counts
       SET n = n - 1,
           done_ms = done_ms - CASE WHEN OLD.status = 'completed'
                                    THEN coalesce(OLD.completed_at - OLD.created_at, 0) ELSE 0 END
     WHERE project_id = OLD.project_id AND status = OLD.status AND channel = OLD.channel
       AND type = OLD.type;
    UPDATE task_hours SET created = created - 1
     WHERE project_id = OLD.project_id AND hour = OLD.created_at / 3600000;
    UPDATE task_hours SET completed = completed - 1
     WHERE project_id = OLD.project_id AND hour = OLD.completed_at / 3600000
       AND OLD.status = 'completed';
END;

-- Fires only when a counted column is set AND changed: a lease renewal or a title edit costs
-- nothing here.
CREATE TRIGGER tasks_count_update
AFTER UPDATE OF project_id, status, channel, type, created_at, completed_at ON tasks
WHEN OLD.project_id IS NOT NEW.project_id OR OLD.status IS NOT NEW.status
  OR OLD.channel IS NOT NEW.channel OR OLD.type IS NOT NEW.type
  OR OLD.created_at IS NOT NEW.created_at
  OR ((OLD.status = 'completed' OR NEW.status = 'completed')
      AND OLD.completed_at IS NOT NEW.completed_at)
BEGIN
    UPDATE task_counts
       SET n = n - 1,
           done_ms = done_ms - CASE WHEN OLD.status = 'completed'
                                    THEN coalesce(OLD.completed_at - OLD.created_at, 0) ELSE 0 END
     WHERE project_id = OLD.project_id AND status = OLD.status AND channel = OLD.channel
       AND type = OLD.type;
    INSERT INTO task_counts (project_id, status, channel, type, n, done_ms)
    VALUES (NEW.project_id, NEW.status, NEW.channel, NEW.type, 1,
            CASE WHEN NEW.status = 'completed'
                 THEN coalesce(NEW.completed_at - NEW.created_at, 0) ELSE 0 END)
    ON CONFLICT (project_id, status, channel, type)
    DO UPDATE SET n = n + excluded.n, done_ms = done_ms + excluded.done_ms;
    UPDATE task_hours SET created = created - 1
     WHERE project_id = OLD.project_id AND hour = OLD.created_at / 3600000
       AND (OLD.project_id IS NOT NEW.project_id OR OLD.created_at IS NOT NEW.created_at);
    INSERT INTO task_hours (project_id, hour, created, completed)
    SELECT NEW.project_id, NEW.created_at / 3600000, 1, 0
     WHERE OLD.project_id IS NOT NEW.project_id OR OLD.created_at IS NOT NEW.created_at
    ON CONFLICT (project_id, hour) DO UPDATE SET created = created + 1;
    UPDATE task_hours SET completed = completed - 1
     WHERE project_id = OLD.project_id AND hour = OLD.completed_at / 3600000
       AND OLD.status = 'completed';
    INSERT INTO task_hours (project_id, hour, created, completed)
    SELECT NEW.project_id, NEW.completed_at / 3600000, 0, 1
     WHERE NEW.status = 'completed' AND NEW.completed_at IS NOT NULL
    ON CONFLICT (project_id, hour) DO UPDATE SET completed = completed + 1;
END;

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
) GROUP BY project_id, hour;
