-- Named statements of the SQLite backend; the PostgreSQL backend defines the same names.
-- Numbered parameters (?1, ?2, …) mirror PostgreSQL's $1, $2, … so the two files read alike.
-- There is no FOR UPDATE: writers run under BEGIN IMMEDIATE, which already excludes other writers.

-- name: ping
SELECT 1

-- name: lock_task
SELECT t.*,
       (SELECT json_group_array(json_array(p.id, p.status))
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = ?1

-- name: read_task
-- Under BEGIN IMMEDIATE a read is already as good as a lock; kept for parity with PostgreSQL.
SELECT t.*,
       (SELECT json_group_array(json_array(p.id, p.status))
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = ?1

-- name: lock_expired
SELECT t.*, NULL AS blockers
  FROM tasks t
 WHERE t.id = ?1 AND t.status = 'in_progress' AND t.lease_expires <= ?2

-- name: expired_candidates
SELECT id FROM tasks
 WHERE status = 'in_progress' AND lease_expires <= ?1
 ORDER BY lease_expires
 LIMIT ?2

-- name: write_task
UPDATE tasks
   SET title = ?2, description = ?3, status = ?4, priority = ?5, type = ?6, channel = ?7,
       payload = ?8, outputs = ?9, assignee_type = ?10, assignee_id = ?11, assignee_name = ?12,
       lease_expires = ?13, lease_token = ?14, attempts = ?15, reason = ?16, available_at = ?17,
       updated_at = ?18, completed_at = ?19, depends_on = ?20, version = version + 1
 WHERE id = ?1 AND version = ?21
RETURNING version

-- name: insert_event
INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                    actor_name, created_at, task, message)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
RETURNING id

-- name: pending_dependents
SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id
 WHERE d.depends_on = ?1 AND t.status = 'pending'
 ORDER BY t.id

-- name: create_task
INSERT INTO tasks (project_id, title, description, status, priority, type, channel, payload,
                   source_type, source_id, source_name, max_attempts, depends_on,
                   available_at, created_at, updated_at)
VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?13)
RETURNING *

-- name: create_tasks_bulk
-- SQLite has no arrays: the store runs create_task once per row inside one transaction.
SELECT 1 WHERE 0

-- name: insert_deps
INSERT OR IGNORE INTO task_deps (task_id, depends_on)
SELECT ?1, value FROM json_each(?2)

-- name: delete_deps
DELETE FROM task_deps WHERE task_id = ?1

-- name: deps_status
SELECT id, status FROM tasks WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id

-- name: dependency_closure
WITH RECURSIVE up(id) AS (
    SELECT value FROM json_each(?1)
    UNION
    SELECT d.depends_on FROM task_deps d JOIN up ON d.task_id = up.id
)
SELECT id FROM up

-- name: get_task
SELECT * FROM tasks WHERE id = ?1

-- name: list_messages
SELECT * FROM messages WHERE task_id = ?1 ORDER BY id

-- name: insert_message
INSERT INTO messages (task_id, actor_type, actor_id, actor_name, parts, created_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
RETURNING *

-- name: touch_task
UPDATE tasks SET updated_at = ?2, version = version + 1 WHERE id = ?1 RETURNING *

-- name: delete_task
DELETE FROM tasks WHERE id = ?1

-- name: list_tasks
-- The head of a page of GET /tasks. ats.store.listing appends the WHERE clause from the
-- list_where_* fragments below (only the filters given; each binds one parameter named after its filter), the
-- keyset position and the ORDER BY; count_tasks is built there from the same fragments.
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

-- name: list_where_search_short
-- 1–2 characters are shorter than a trigram, so the index cannot answer: a LIKE scan, bounded
-- only by the other filters. ats_lower (Python's str.lower, registered on the connection) folds
-- case beyond ASCII as the trigram index does; LIKE alone folds only A–Z.
(ats_lower(title) LIKE ats_lower(:search_short) ESCAPE '\'
 OR ats_lower(description) LIKE ats_lower(:search_short) ESCAPE '\')

-- name: claim_next
-- Runs under BEGIN IMMEDIATE, so the pick and the hand-over cannot interleave with another
-- claimer; the store appends the task.claimed events from the returned rows. INDEXED BY: without
-- statistics the planner would rather sort every pending row than walk the partial index in
-- claim order and stop at LIMIT. The store fills {index} and {channel}: `tasks_claimable` and
-- `?2 IS NULL`, or `tasks_claimable_channel` and `t.channel = ?2` (one walk per index).
UPDATE tasks
   SET status = 'in_progress', assignee_type = ?6, assignee_id = ?7, assignee_name = ?8,
       lease_expires = ?1 + ?9, lease_token = lease_token + 1, attempts = attempts + 1,
       available_at = ?1, updated_at = ?1, version = version + 1
 WHERE id IN (
    SELECT t.id FROM tasks t INDEXED BY {index}
     WHERE t.status = 'pending' AND t.available_at <= ?1
       AND {channel}
       AND (?3 IS NULL OR t.type = ?3)
       AND (?4 IS NULL OR t.project_id = ?4)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT ?5)
RETURNING *

-- name: stats_counts
-- Served by the counters of migration 0005 (kept by triggers on tasks).
SELECT status, channel, sum(n) AS n, sum(done_ms) AS done_ms FROM task_count_view
 WHERE (?1 IS NULL OR project_id = ?1)
 GROUP BY status, channel HAVING sum(n) <> 0 ORDER BY channel, status

-- name: stats_recent
-- Whole hours: ?2 / ?3 are the hours (since the epoch) holding now - 24 h and now - 7 d.
SELECT coalesce(sum(created) FILTER (WHERE hour >= ?2), 0) AS created_24h,
       coalesce(sum(completed) FILTER (WHERE hour >= ?2), 0) AS completed_24h,
       coalesce(sum(created), 0) AS created_7d,
       coalesce(sum(completed), 0) AS completed_7d
  FROM task_hour_view WHERE (?1 IS NULL OR project_id = ?1) AND hour >= ?3

-- name: count_tasks_exact
SELECT coalesce(sum(n), 0) AS n FROM task_count_view
 WHERE (?1 IS NULL OR project_id = ?1)
   AND (?2 IS NULL OR status IN (SELECT value FROM json_each(?2)))
   AND (?3 IS NULL OR channel = ?3)
   AND (?4 IS NULL OR type = ?4)

-- name: event_ids_after
SELECT id, created_at FROM events WHERE id > ?1 ORDER BY id LIMIT ?2

-- name: event_tail
SELECT id, created_at FROM events WHERE id > ?1 ORDER BY id DESC LIMIT ?2

-- name: events_after
SELECT * FROM events
 WHERE id > ?1 AND id <= ?2
   AND (?3 IS NULL OR project_id = ?3)
   AND (?4 IS NULL OR channel = ?4)
   AND (?5 IS NULL OR task_type = ?5)
   AND (?6 IS NULL OR type IN (SELECT value FROM json_each(?6)))
   AND (?7 IS NULL OR task_id = ?7)
 ORDER BY id
 LIMIT ?8

-- name: events_kept
-- Retention's mark (every id up to `trimmed` is gone) and the oldest event kept after it.
SELECT through AS trimmed, (SELECT min(id) FROM events WHERE id > through) AS oldest
  FROM events_trimmed

-- name: events_trim_bound
-- Where one trim step may stop: among the oldest ?2 events after the mark, the first one
-- written at or after ?1 (`young`: the step stops below it, so the kept log stays a
-- contiguous tail even when clocks disagree), the last of them, and the newest event overall
-- (never trimmed: it tells readers how far the log got).
WITH head AS (
    SELECT id, created_at FROM events
     WHERE id > (SELECT through FROM events_trimmed) ORDER BY id LIMIT ?2
)
SELECT (SELECT through FROM events_trimmed) AS trimmed,
       (SELECT min(id) FROM head WHERE created_at >= ?1) AS young,
       (SELECT max(id) FROM head) AS last,
       (SELECT max(id) FROM events) AS newest

-- name: events_trim
DELETE FROM events WHERE id > ?1 AND id <= ?2

-- name: events_trimmed_set
UPDATE events_trimmed SET through = ?1 WHERE through < ?1

-- name: list_orgs
SELECT * FROM orgs ORDER BY slug

-- name: get_org
SELECT * FROM orgs WHERE slug = ?1

-- name: create_org
INSERT INTO orgs (slug, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) RETURNING *

-- name: update_org
UPDATE orgs SET slug = ?2, name = ?3, updated_at = ?4 WHERE slug = ?1 RETURNING *

-- name: list_projects
SELECT p.*, o.slug AS org,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'pending') AS pending_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'in_progress') AS in_progress_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c WHERE c.project_id = p.id)
           AS total_count
  FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = ?1
 ORDER BY p.slug

-- name: get_project
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = ?1 AND p.slug = ?2

-- name: default_project
-- The project unscoped routes use: the first one made (by the first migration, as
-- default/main). Found by id, so renaming its org or itself changes nothing.
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 ORDER BY p.id LIMIT 1

-- name: create_project
INSERT INTO projects (org_id, slug, name, description, created_at, updated_at)
SELECT o.id, ?2, ?3, ?4, ?5, ?5 FROM orgs o WHERE o.slug = ?1
RETURNING *, ?1 AS org

-- name: update_project
UPDATE projects SET slug = ?3, name = ?4, description = ?5, updated_at = ?6
 WHERE org_id = (SELECT id FROM orgs WHERE slug = ?1) AND slug = ?2
RETURNING *, ?1 AS org

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
   SET status = 'completed', outputs = ?2, lease_expires = NULL, updated_at = ?6,
       completed_at = ?6, version = version + 1
 WHERE id = ?1 AND status = 'in_progress' AND assignee_type = ?3 AND assignee_id = ?4
   AND (?5 IS NULL OR lease_token = ?5)
   AND (?8 IS NULL OR project_id = ?8)
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
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: feed_set_clock
UPDATE feed_clock SET last_id = ?1 WHERE last_id < ?1

-- name: feed_count_add
INSERT INTO feed_counts (project_id, n) VALUES (?1, ?2)
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + excluded.n
RETURNING n

-- name: feed_trim
DELETE FROM feed_events
 WHERE id IN (SELECT id FROM feed_events WHERE project_id = ?1 ORDER BY id LIMIT ?2)

-- name: feed_count_sub
UPDATE feed_counts SET n = n - ?2 WHERE project_id = ?1

-- name: feed_over
SELECT project_id, n FROM feed_counts WHERE n > ?1 ORDER BY project_id

-- name: feed_after
SELECT * FROM feed_events
 WHERE id > ?1
   AND (?2 IS NULL OR project_id = ?2)
   AND (?3 IS NULL OR agent = ?3)
   AND (?4 IS NULL OR type = ?4)
 ORDER BY id
 LIMIT ?5

-- name: feed_last
SELECT * FROM (
    SELECT * FROM feed_events
     WHERE (?1 IS NULL OR project_id = ?1)
       AND (?2 IS NULL OR agent = ?2)
       AND (?3 IS NULL OR type = ?3)
     ORDER BY id DESC
     LIMIT ?4
)
ORDER BY id

-- name: feed_get
SELECT * FROM feed_events WHERE id = ?1 AND (?2 IS NULL OR project_id = ?2)

-- name: feed_clear
DELETE FROM feed_events WHERE (?1 IS NULL OR project_id = ?1)

-- name: feed_clear_counts
DELETE FROM feed_counts WHERE (?1 IS NULL OR project_id = ?1)

-- name: feed_by_agent
SELECT agent AS key, count(*) AS n FROM feed_events
 WHERE (?1 IS NULL OR project_id = ?1) GROUP BY agent ORDER BY agent

-- name: feed_by_type
SELECT type AS key, count(*) AS n FROM feed_events
 WHERE (?1 IS NULL OR project_id = ?1) GROUP BY type ORDER BY type

-- name: feed_latest_per_agent
SELECT f.* FROM feed_events f
  JOIN (SELECT max(id) AS id FROM feed_events
         WHERE (?1 IS NULL OR project_id = ?1) GROUP BY agent) newest ON f.id = newest.id
 ORDER BY f.agent

-- name: feed_head
SELECT last_id FROM feed_clock
