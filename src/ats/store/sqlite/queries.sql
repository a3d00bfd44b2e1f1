-- Named statements of the SQLite backend; the PostgreSQL backend defines the same names.
-- Parameters are named (:task_id), as in PostgreSQL's file, and bound from a mapping by sqlite3.
-- Statements named sqlite_* are this backend's own plumbing (pragmas, migrations' bookkeeping).
-- There is no FOR UPDATE: writers run under BEGIN IMMEDIATE, which already excludes other writers.

-- name: ping
SELECT 1

-- name: lock_task
SELECT t.*,
       (SELECT json_group_array(json_array(p.id, p.status))
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = :task_id

-- name: read_task
-- Under BEGIN IMMEDIATE a read is already as good as a lock; kept for parity with PostgreSQL.
SELECT t.*,
       (SELECT json_group_array(json_array(p.id, p.status))
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = :task_id

-- name: lock_expired
SELECT t.*, NULL AS blockers
  FROM tasks t
 WHERE t.id = :task_id AND t.status = 'in_progress' AND t.lease_expires <= :now

-- name: expired_candidates
SELECT id FROM tasks
 WHERE status = 'in_progress' AND lease_expires <= :now
 ORDER BY lease_expires
 LIMIT :limit

-- name: write_task
UPDATE tasks
   SET title = :title, description = :description, status = :status, priority = :priority,
       type = :type, channel = :channel, payload = :payload, outputs = :outputs,
       assignee_type = :assignee_type, assignee_id = :assignee_id, assignee_name = :assignee_name,
       lease_expires = :lease_expires, lease_token = :lease_token, attempts = :attempts,
       reason = :reason, available_at = :available_at, updated_at = :updated_at,
       completed_at = :completed_at, depends_on = :depends_on, version = version + 1
 WHERE id = :id AND version = :version
RETURNING version

-- name: insert_event
INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                    actor_name, created_at, task, message)
VALUES (:type, :task_id, :project_id, :channel, :task_type, :actor_type, :actor_id,
        :actor_name, :now, :task, :message)
RETURNING id

-- name: pending_dependents
SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id
 WHERE d.depends_on = :task_id AND t.status = 'pending'
 ORDER BY t.id

-- name: create_task
INSERT INTO tasks (project_id, title, description, status, priority, type, channel, payload,
                   source_type, source_id, source_name, max_attempts, depends_on,
                   available_at, created_at, updated_at)
VALUES (:project_id, :title, :description, 'pending', :priority, :type, :channel, :payload,
        :actor_type, :actor_id, :actor_name, :max_attempts, :depends_on, :now, :now, :now)
RETURNING *

-- name: create_tasks_bulk
-- SQLite has no arrays: the store runs create_task once per row inside one transaction.
SELECT 1 WHERE 0

-- name: insert_deps
INSERT OR IGNORE INTO task_deps (task_id, depends_on)
SELECT :task_id, value FROM json_each(:depends_on)

-- name: delete_deps
DELETE FROM task_deps WHERE task_id = :task_id

-- name: deps_status
SELECT id, status FROM tasks WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id

-- name: dependency_closure
WITH RECURSIVE up(id) AS (
    SELECT value FROM json_each(:ids)
    UNION
    SELECT d.depends_on FROM task_deps d JOIN up ON d.task_id = up.id
)
SELECT id FROM up

-- name: get_task
SELECT * FROM tasks WHERE id = :task_id

-- name: list_messages
SELECT * FROM messages WHERE task_id = :task_id ORDER BY id

-- name: insert_message
INSERT INTO messages (task_id, actor_type, actor_id, actor_name, parts, created_at)
VALUES (:task_id, :actor_type, :actor_id, :actor_name, :parts, :now)
RETURNING *

-- name: touch_task
UPDATE tasks SET updated_at = :now, version = version + 1 WHERE id = :task_id RETURNING *

-- name: delete_task
DELETE FROM tasks WHERE id = :task_id

-- name: list_tasks
-- The head of a page of GET /tasks. ats.store.listing appends the WHERE clause from the
-- list_where_* fragments below (only the filters given; each binds one parameter named after its
-- filter), the keyset position and the ORDER BY; count_tasks is built there from the same
-- fragments.
SELECT * FROM tasks

-- name: list_where_project
project_id = :project

-- name: list_where_status
status = :status

-- name: list_where_type
type = :type

-- name: list_where_channel
channel = :channel

-- name: list_where_assignee
assignee_id = :assignee

-- name: list_where_priority
priority = :priority

-- name: list_where_min_priority
priority >= :min_priority

-- name: list_where_max_priority
priority <= :max_priority

-- name: list_where_created_after
created_at > :created_after

-- name: list_where_updated_after
updated_at > :updated_after

-- name: list_where_statuses
status IN (SELECT value FROM json_each(:statuses))

-- name: list_where_search
-- The trigram FTS index (migration 0004); the parameter is the search as one quoted phrase.
id IN (SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH :search)

-- name: list_where_search_scan
-- A LIKE on each row, not the index. For 1–2 characters, which are shorter than a trigram so the
-- index cannot answer; and (Dialect.walk) for a word so common (sqlite_search_probe) that walking
-- the requested order and keeping the matches reaches a page sooner than reading every match to
-- sort them.
-- ats_lower (Python's str.lower, registered on the connection) folds case beyond ASCII as the
-- trigram index does; LIKE alone folds only A–Z.
(ats_lower(title) LIKE ats_lower(:search_scan) ESCAPE '\'
 OR ats_lower(description) LIKE ats_lower(:search_scan) ESCAPE '\')

-- name: sqlite_walk_priority
-- The priority filters as a test of each row (the unary + keeps the planner off the priority
-- index), for when the store's probe found them common: SQLite's statistics know 10 distinct
-- priorities, not how many tasks each holds, and for a range it guesses few; reading 200,000
-- tasks by priority to sort them took 128 ms at 1M, walking the requested order 0.6 ms.
+priority = :priority

-- name: sqlite_walk_min_priority
+priority >= :min_priority

-- name: sqlite_walk_max_priority
+priority <= :max_priority

-- name: sqlite_priority_probe
-- How common a priority filter is: its matches in the priority index, counted up to :probe.
SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE priority BETWEEN :low AND :high LIMIT :probe)

-- name: sqlite_search_probe
-- How common a search is: its index matches, counted up to :probe.
SELECT count(*) AS n FROM (SELECT 1 FROM tasks_fts WHERE tasks_fts MATCH :search LIMIT :probe)

-- name: sqlite_count_search_alone
-- Counting a search with no other filter: the index alone (1 ms for 10,001 matches at 1M tasks,
-- 4 ms joined to the rows). The FTS table follows tasks through its triggers (migration 0004).
tasks_fts WHERE tasks_fts MATCH :search

-- name: sqlite_count_search_from
-- Counting a search: the index's matches joined to their rows, so the count streams and stops at
-- the cap (`id IN (…)` would first collect every match, 100,000 of them for a common word).
tasks_fts JOIN tasks ON tasks.id = tasks_fts.rowid AND tasks_fts MATCH :search

-- name: claim_next_any
-- Runs under BEGIN IMMEDIATE, so the pick and the hand-over cannot interleave with another
-- claimer; the store appends the task.claimed events from the returned rows. INDEXED BY: without
-- statistics the planner would rather sort every pending row than walk the partial index in
-- claim order and stop at LIMIT. Two texts, this one for any channel and claim_next_in_channel
-- for one, each walking its own index (`tasks_claimable`, `tasks_claimable_channel`).
UPDATE tasks
   SET status = 'in_progress', assignee_type = :actor_type, assignee_id = :actor_id,
       assignee_name = :actor_name,
       lease_expires = :now + :lease_ms, lease_token = lease_token + 1, attempts = attempts + 1,
       available_at = :now, updated_at = :now, version = version + 1
 WHERE id IN (
    SELECT t.id FROM tasks t INDEXED BY tasks_claimable
     WHERE t.status = 'pending' AND t.available_at <= :now
       AND (:task_type IS NULL OR t.type = :task_type)
       AND (:project_id IS NULL OR t.project_id = :project_id)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT :limit)
RETURNING *

-- name: claim_next_in_channel
-- claim_next_any limited to one channel (see there).
UPDATE tasks
   SET status = 'in_progress', assignee_type = :actor_type, assignee_id = :actor_id,
       assignee_name = :actor_name,
       lease_expires = :now + :lease_ms, lease_token = lease_token + 1, attempts = attempts + 1,
       available_at = :now, updated_at = :now, version = version + 1
 WHERE id IN (
    SELECT t.id FROM tasks t INDEXED BY tasks_claimable_channel
     WHERE t.status = 'pending' AND t.available_at <= :now
       AND t.channel = :channel
       AND (:task_type IS NULL OR t.type = :task_type)
       AND (:project_id IS NULL OR t.project_id = :project_id)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT :limit)
RETURNING *

-- name: stats_counts
-- Served by the counters of migration 0005 (kept by triggers on tasks).
SELECT status, channel, sum(n) AS n, sum(done_ms) AS done_ms FROM task_count_view
 WHERE (:project_id IS NULL OR project_id = :project_id)
 GROUP BY status, channel HAVING sum(n) <> 0 ORDER BY channel, status

-- name: stats_recent
-- Whole hours: :hour_24h / :hour_7d are the hours (since the epoch) holding now - 24 h and
-- now - 7 d.
SELECT coalesce(sum(created) FILTER (WHERE hour >= :hour_24h), 0) AS created_24h,
       coalesce(sum(completed) FILTER (WHERE hour >= :hour_24h), 0) AS completed_24h,
       coalesce(sum(created), 0) AS created_7d,
       coalesce(sum(completed), 0) AS completed_7d
  FROM task_hour_view WHERE (:project_id IS NULL OR project_id = :project_id) AND hour >= :hour_7d

-- name: count_tasks_exact
SELECT coalesce(sum(n), 0) AS n FROM task_count_view
 WHERE (:project_id IS NULL OR project_id = :project_id)
   AND (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
   AND (:channel IS NULL OR channel = :channel)
   AND (:type IS NULL OR type = :type)

-- name: event_ids_after
SELECT id, created_at FROM events WHERE id > :since ORDER BY id LIMIT :limit

-- name: event_tail
SELECT id, created_at FROM events WHERE id > :since ORDER BY id DESC LIMIT :limit

-- name: events_after
-- payload_body: the payload migration 0007 keeps apart (base.event_snapshot puts it back)
SELECT e.*, p.body AS payload_body
  FROM events e LEFT JOIN event_payloads p ON p.id = e.payload_ref
 WHERE e.id > :since AND e.id <= :horizon
   AND (:project_id IS NULL OR e.project_id = :project_id)
   AND (:channel IS NULL OR e.channel = :channel)
   AND (:task_type IS NULL OR e.task_type = :task_type)
   AND (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types)))
   AND (:task_id IS NULL OR e.task_id = :task_id)
 ORDER BY e.id
 LIMIT :limit

-- name: events_kept
-- Retention's mark (every id up to `trimmed` is gone) and the oldest event kept after it.
SELECT through AS trimmed, (SELECT min(id) FROM events WHERE id > through) AS oldest
  FROM events_trimmed

-- name: events_trim_bound
-- Where one trim step may stop: among the oldest :limit events after the mark, the first one
-- written at or after :before (`young`: the step stops below it, so the kept log stays a
-- contiguous tail even when clocks disagree), the last of them, and the newest event overall
-- (never trimmed: it tells readers how far the log got).
WITH head AS (
    SELECT id, created_at FROM events
     WHERE id > (SELECT through FROM events_trimmed) ORDER BY id LIMIT :limit
)
SELECT (SELECT through FROM events_trimmed) AS trimmed,
       (SELECT min(id) FROM head WHERE created_at >= :before) AS young,
       (SELECT max(id) FROM head) AS last,
       (SELECT max(id) FROM events) AS newest

-- name: events_trim
DELETE FROM events WHERE id > :after AND id <= :through

-- name: events_trimmed_set
UPDATE events_trimmed SET through = :through WHERE through < :through

-- name: list_orgs
SELECT * FROM orgs ORDER BY slug

-- name: get_org
SELECT * FROM orgs WHERE slug = :slug

-- name: create_org
INSERT INTO orgs (slug, name, created_at, updated_at) VALUES (:slug, :name, :now, :now) RETURNING *

-- name: update_org
UPDATE orgs SET slug = :new_slug, name = :name, updated_at = :now WHERE slug = :slug RETURNING *

-- name: list_projects
SELECT p.*, o.slug AS org,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'pending') AS pending_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'in_progress') AS in_progress_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c WHERE c.project_id = p.id)
           AS total_count
  FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = :org
 ORDER BY p.slug

-- name: get_project
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = :org AND p.slug = :slug

-- name: default_project
-- The project unscoped routes use: the first one made (by the first migration, as
-- default/main). Found by id, so renaming its org or itself changes nothing.
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 ORDER BY p.id LIMIT 1

-- name: create_project
INSERT INTO projects (org_id, slug, name, description, created_at, updated_at)
SELECT o.id, :slug, :name, :description, :now, :now FROM orgs o WHERE o.slug = :org
RETURNING *, :org AS org

-- name: update_project
UPDATE projects SET slug = :new_slug, name = :name, description = :description, updated_at = :now
 WHERE org_id = (SELECT id FROM orgs WHERE slug = :org) AND slug = :slug
RETURNING *, :org AS org

-- name: project_paths
SELECT p.id, o.slug || '/' || p.slug AS path FROM projects p JOIN orgs o ON o.id = p.org_id

-- name: read_tasks
-- The SQLite store runs a batch one item at a time inside one write transaction.
SELECT 1 WHERE 0

-- name: write_tasks
SELECT 1 WHERE 0

-- name: complete_held
-- The hot path of `complete` (see the PostgreSQL twin); the store appends the event.
UPDATE tasks
   SET status = 'completed', outputs = :outputs, lease_expires = NULL, updated_at = :now,
       completed_at = :now, version = version + 1
 WHERE id = :task_id AND status = 'in_progress'
   AND assignee_type = :actor_type AND assignee_id = :actor_id
   AND (:lease_token IS NULL OR lease_token = :lease_token)
   AND (:project_id IS NULL OR project_id = :project_id)
RETURNING *

-- name: tidy_due
-- Rows are updated in place, so claims leave nothing behind; deletes (feed retention, deleted
-- tasks) leave free pages, reused by later inserts and returned to the file system in steps.
SELECT f.freelist_count AS free_pages, p.page_count AS pages, v.auto_vacuum AS auto_vacuum
  FROM pragma_freelist_count() AS f, pragma_page_count() AS p, pragma_auto_vacuum() AS v

-- name: tidy_lock
SELECT 0

-- name: tidy_unlock
SELECT 0

-- name: storage_tables
-- `ats db stats`, from the dbstat virtual table (one row per page: it reads the whole file).
-- A rowid table's rows are the cells of its leaf pages; an index b-tree (an index, a WITHOUT
-- ROWID table) keeps entries in its interior pages too.
SELECT coalesce(m.tbl_name, s.name) AS table_name, s.name AS name,
       coalesce(m.type, 'table') AS type,
       sum(CASE WHEN s.pagetype = 'leaf' OR (s.pagetype = 'internal'
                     AND (m.type = 'index' OR l.wr)) THEN s.ncell ELSE 0 END) AS rows,
       sum(s.pgsize) AS bytes, count(*) AS pages
  FROM dbstat AS s
  LEFT JOIN sqlite_schema AS m ON m.name = s.name
  LEFT JOIN pragma_table_list AS l ON l.name = s.name AND l.schema = 'main'
 GROUP BY s.name
 ORDER BY s.name

-- name: storage_indexes
-- Without dbstat (a compile-time option) the tables and indexes are listed without sizes.
-- (With it, storage_tables above covers the indexes too: dbstat is read once.)
SELECT tbl_name AS table_name, name, type, NULL AS rows, NULL AS bytes, NULL AS pages
  FROM sqlite_schema
 WHERE type IN ('table', 'index') AND rootpage > 0
 ORDER BY name

-- name: storage_database
SELECT p.page_count AS pages, z.page_size AS page_size, f.freelist_count AS free_pages,
       v.auto_vacuum AS auto_vacuum
  FROM pragma_page_count() AS p, pragma_page_size() AS z, pragma_freelist_count() AS f,
       pragma_auto_vacuum() AS v

-- ==== the activity feed =========================================================================

-- name: feed_lock
SELECT last_id FROM feed_clock

-- name: feed_insert
INSERT INTO feed_events (id, project_id, agent, type, summary, detail, metadata, published_at)
VALUES (:id, :project_id, :agent, :type, :summary, :detail, :metadata, :published_at)
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: feed_set_clock
UPDATE feed_clock SET last_id = :last_id WHERE last_id < :last_id

-- name: feed_count_add
INSERT INTO feed_counts (project_id, n) VALUES (:project_id, :n)
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + excluded.n
RETURNING n

-- name: feed_trim
DELETE FROM feed_events
 WHERE id IN (SELECT id FROM feed_events WHERE project_id = :project_id ORDER BY id LIMIT :n)

-- name: feed_count_sub
UPDATE feed_counts SET n = n - :n WHERE project_id = :project_id

-- name: feed_over
SELECT project_id, n FROM feed_counts WHERE n > :keep ORDER BY project_id

-- name: feed_after
SELECT * FROM feed_events
 WHERE id > :after
   AND (:project_id IS NULL OR project_id = :project_id)
   AND (:agent IS NULL OR agent = :agent)
   AND (:type IS NULL OR type = :type)
 ORDER BY id
 LIMIT :limit

-- name: feed_last
SELECT * FROM (
    SELECT * FROM feed_events
     WHERE (:project_id IS NULL OR project_id = :project_id)
       AND (:agent IS NULL OR agent = :agent)
       AND (:type IS NULL OR type = :type)
     ORDER BY id DESC
     LIMIT :limit
)
ORDER BY id

-- name: feed_get
SELECT * FROM feed_events WHERE id = :event_id AND (:project_id IS NULL OR project_id = :project_id)

-- name: feed_clear
DELETE FROM feed_events WHERE (:project_id IS NULL OR project_id = :project_id)

-- name: feed_clear_counts
DELETE FROM feed_counts WHERE (:project_id IS NULL OR project_id = :project_id)

-- name: feed_by_agent
SELECT agent AS key, count(*) AS n FROM feed_events
 WHERE (:project_id IS NULL OR project_id = :project_id) GROUP BY agent ORDER BY agent

-- name: feed_by_type
SELECT type AS key, count(*) AS n FROM feed_events
 WHERE (:project_id IS NULL OR project_id = :project_id) GROUP BY type ORDER BY type

-- name: feed_latest_per_agent
SELECT f.* FROM feed_events f
  JOIN (SELECT max(id) AS id FROM feed_events
         WHERE (:project_id IS NULL OR project_id = :project_id) GROUP BY agent) newest
    ON f.id = newest.id
 ORDER BY f.agent

-- name: feed_head
SELECT last_id FROM feed_clock

-- ==== SQLite plumbing: upkeep's pragmas and the migrations' bookkeeping ========================

-- name: sqlite_incremental_vacuum_page
-- One page per statement: the pragma frees a page per step, and Python's sqlite3 steps a
-- statement that has no result columns only once.
PRAGMA incremental_vacuum(1)

-- name: sqlite_analysis_limit
-- ANALYZE reads this many rows per index at most, so PRAGMA optimize stays short on big tables.
PRAGMA analysis_limit = 400

-- name: sqlite_optimize
-- SQLite's advice: every few hours and on close.
PRAGMA optimize

-- name: sqlite_busy_timeout_off
PRAGMA busy_timeout = 0

-- name: sqlite_busy_timeout_on
-- As set when the connection opens.
PRAGMA busy_timeout = 5000

-- name: sqlite_wal_checkpoint
PRAGMA wal_checkpoint(TRUNCATE)

-- name: sqlite_auto_vacuum_incremental
-- Takes effect through VACUUM on a file that has tables already.
PRAGMA auto_vacuum = INCREMENTAL

-- name: sqlite_vacuum
VACUUM

-- name: sqlite_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,
    name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)

-- name: sqlite_migrations_done
SELECT version FROM schema_migrations
