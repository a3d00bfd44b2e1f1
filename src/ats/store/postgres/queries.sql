-- Named statements of the PostgreSQL backend; the SQLite backend defines the same names.

-- name: ping
SELECT 1

-- name: lock_task
-- The row, locked, with what the status machine needs: its unfinished dependencies.
SELECT t.*,
       (SELECT json_agg(json_build_array(p.id, p.status) ORDER BY p.id)
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = $1
   FOR UPDATE OF t

-- name: read_task
-- The same without the lock, for the optimistic path (its write checks the version).
SELECT t.*,
       (SELECT json_agg(json_build_array(p.id, p.status) ORDER BY p.id)
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = $1

-- name: lock_expired
-- Another reaper that holds the row is already expiring it: skip it rather than wait, so every
-- expiry is handled (and announced) exactly once.
SELECT t.*, NULL::json AS blockers
  FROM tasks t
 WHERE t.id = $1 AND t.status = 'in_progress' AND t.lease_expires <= $2
   FOR UPDATE OF t SKIP LOCKED

-- name: expired_candidates
SELECT id FROM tasks
 WHERE status = 'in_progress' AND lease_expires <= $1
 ORDER BY lease_expires
 LIMIT $2

-- name: write_task
-- Compare-and-set: write every mutable column if the row is still at version $28, and append
-- the change's events (in order), in one round trip. No row back = the row changed meanwhile.
WITH u AS (
    UPDATE tasks
       SET title = $2, description = $3, status = $4, priority = $5, type = $6, channel = $7,
           payload = $8, outputs = $9, assignee_type = $10, assignee_id = $11,
           assignee_name = $12, lease_expires = $13, lease_token = $14, attempts = $15,
           reason = $16, available_at = $17, updated_at = $18, completed_at = $19,
           depends_on = $20, version = version + 1
     WHERE id = $1 AND version = $28
    RETURNING version
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT x.t, $1, $21, $7, $6, $22, $23, $24, $25, $26
      FROM u, unnest($27::text[]) WITH ORDINALITY AS x(t, n)
     ORDER BY x.n
)
SELECT version FROM u

-- name: insert_event
INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                    actor_name, created_at, task, message)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id

-- name: pending_dependents
SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id
 WHERE d.depends_on = $1 AND t.status = 'pending'
 ORDER BY t.id

-- name: create_task
-- One statement, one round trip: the task and its task.created event commit together.
WITH t AS (
    INSERT INTO tasks (project_id, title, description, status, priority, type, channel, payload,
                       source_type, source_id, source_name, max_attempts, depends_on,
                       available_at, created_at, updated_at)
    VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13)
    RETURNING *
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.created', t.id, t.project_id, t.channel, t.type, t.source_type, t.source_id,
           t.source_name, t.created_at, row_to_json(t)
      FROM t
)
SELECT * FROM t

-- name: create_tasks_bulk
WITH t AS (
    INSERT INTO tasks (project_id, title, description, status, priority, type, channel, payload,
                       source_type, source_id, source_name, max_attempts, depends_on,
                       available_at, created_at, updated_at)
    SELECT $1, x.title, x.description, 'pending', x.priority, x.type, x.channel, x.payload,
           $8, $9, $10, x.max_attempts, '[]'::json, $11, $11, $11
      FROM unnest($2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], $7::json[],
                  $12::int[]) WITH ORDINALITY
           AS x(title, description, priority, type, channel, payload, max_attempts, n)
     ORDER BY x.n
    RETURNING *
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.created', t.id, t.project_id, t.channel, t.type, t.source_type, t.source_id,
           t.source_name, t.created_at, row_to_json(t)
      FROM t ORDER BY t.id
)
SELECT * FROM t ORDER BY id

-- name: insert_deps
INSERT INTO task_deps (task_id, depends_on)
SELECT $1, d FROM unnest($2::bigint[]) AS d
ON CONFLICT DO NOTHING

-- name: delete_deps
DELETE FROM task_deps WHERE task_id = $1

-- name: deps_status
-- FOR SHARE: a dependency cannot change status until the new dependent is committed, so a
-- failure that cascades afterwards finds it.
SELECT id, status FROM tasks WHERE id = ANY($1::bigint[]) ORDER BY id FOR SHARE

-- name: dependency_closure
-- Every task that the given tasks depend on, transitively (to refuse cycles).
WITH RECURSIVE up(id) AS (
    SELECT unnest($1::bigint[])
    UNION
    SELECT d.depends_on FROM task_deps d JOIN up ON d.task_id = up.id
)
SELECT id FROM up

-- name: get_task
SELECT * FROM tasks WHERE id = $1

-- name: list_messages
SELECT * FROM messages WHERE task_id = $1 ORDER BY id

-- name: insert_message
INSERT INTO messages (task_id, actor_type, actor_id, actor_name, parts, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING *

-- name: touch_task
UPDATE tasks SET updated_at = $2, version = version + 1 WHERE id = $1 RETURNING *

-- name: delete_task
DELETE FROM tasks WHERE id = $1

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
status = ANY(:statuses::text[])

-- name: list_where_search
-- pg_trgm GIN indexes on title and description (migration 0004) serve ILIKE '%…%'.
(title ILIKE :search ESCAPE '\' OR description ILIKE :search ESCAPE '\')

-- name: list_where_search_short
-- Under 3 characters pg_trgm extracts no trigram; the planner then prefers scanning within the
-- other filters. Same meaning as list_where_search.
(title ILIKE :search_short ESCAPE '\' OR description ILIKE :search_short ESCAPE '\')

-- name: claim_next
-- Claim-next in one statement: pick the best claimable rows (skipping rows other claimers hold),
-- hand them over, and append their task.claimed events. {channel} is `$2::text IS NULL` or
-- `t.channel = $2`: the store prepares both texts, so each keeps a plan that walks its partial
-- index (a `$2 IS NULL OR` filter defeats that once PostgreSQL switches to a generic plan).
WITH c AS (
    SELECT t.id FROM tasks t
     WHERE t.status = 'pending' AND t.available_at <= $1
       AND {channel}
       AND ($3::text IS NULL OR t.type = $3)
       AND ($4::bigint IS NULL OR t.project_id = $4)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT $5
       FOR UPDATE OF t SKIP LOCKED
), u AS (
    UPDATE tasks t
       SET status = 'in_progress', assignee_type = $6, assignee_id = $7, assignee_name = $8,
           lease_expires = $1 + $9, lease_token = t.lease_token + 1, attempts = t.attempts + 1,
           available_at = $1, updated_at = $1, version = t.version + 1
      FROM c
     WHERE t.id = c.id
    RETURNING t.*
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.claimed', u.id, u.project_id, u.channel, u.type, $6, $7, $8, $1, row_to_json(u)
      FROM u ORDER BY u.priority DESC, u.id
)
SELECT * FROM u ORDER BY priority DESC, id

-- name: stats_counts
-- Served by the counters of migration 0005 (totals + pending ledger deltas, one snapshot).
SELECT status, channel, sum(n) AS n, sum(done_ms) AS done_ms FROM task_count_view
 WHERE ($1::bigint IS NULL OR project_id = $1)
 GROUP BY status, channel HAVING sum(n) <> 0 ORDER BY channel, status

-- name: stats_recent
-- Whole hours: $2 / $3 are the hours (since the epoch) holding now - 24 h and now - 7 d.
SELECT coalesce(sum(created) FILTER (WHERE hour >= $2), 0) AS created_24h,
       coalesce(sum(completed) FILTER (WHERE hour >= $2), 0) AS completed_24h,
       coalesce(sum(created), 0) AS created_7d,
       coalesce(sum(completed), 0) AS completed_7d
  FROM task_hour_view WHERE ($1::bigint IS NULL OR project_id = $1) AND hour >= $3

-- name: count_tasks_exact
SELECT coalesce(sum(n), 0) AS n FROM task_count_view
 WHERE ($1::bigint IS NULL OR project_id = $1)
   AND ($2::text[] IS NULL OR status = ANY($2))
   AND ($3::text IS NULL OR channel = $3)
   AND ($4::text IS NULL OR type = $4)

-- name: pg_fold_lock
SELECT pg_try_advisory_xact_lock(1096045316)

-- name: pg_fold_task_counts
-- Moves up to $1 committed ledger rows into the totals; returns how many it moved. Rows written
-- by transactions still open are invisible here and stay for the next fold.
WITH d AS (
    DELETE FROM task_count_deltas
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM task_count_deltas LIMIT $1))
    RETURNING *
), c AS (
    INSERT INTO task_counts (project_id, status, channel, type, n, done_ms)
    SELECT project_id, status, channel, type, sum(n), sum(done_ms) FROM d WHERE hour IS NULL
     GROUP BY project_id, status, channel, type ORDER BY project_id, status, channel, type
    ON CONFLICT (project_id, status, channel, type)
    DO UPDATE SET n = task_counts.n + EXCLUDED.n, done_ms = task_counts.done_ms + EXCLUDED.done_ms
), h AS (
    INSERT INTO task_hours (project_id, hour, created, completed)
    SELECT project_id, hour, sum(created), sum(completed) FROM d WHERE hour IS NOT NULL
     GROUP BY project_id, hour ORDER BY project_id, hour
    ON CONFLICT (project_id, hour)
    DO UPDATE SET created = task_hours.created + EXCLUDED.created,
                  completed = task_hours.completed + EXCLUDED.completed
)
SELECT count(*) FROM d

-- name: event_ids_after
SELECT id, created_at FROM events WHERE id > $1 ORDER BY id LIMIT $2

-- name: event_tail
SELECT id, created_at FROM events WHERE id > $1 ORDER BY id DESC LIMIT $2

-- name: events_after
SELECT * FROM events
 WHERE id > $1 AND id <= $2
   AND ($3::bigint IS NULL OR project_id = $3)
   AND ($4::text IS NULL OR channel = $4)
   AND ($5::text IS NULL OR task_type = $5)
   AND ($6::text[] IS NULL OR type = ANY($6))
   AND ($7::bigint IS NULL OR task_id = $7)
 ORDER BY id
 LIMIT $8

-- name: events_kept
-- Retention's mark (every id up to `trimmed` is gone) and the oldest event kept after it.
SELECT through AS trimmed, (SELECT min(id) FROM events WHERE id > through) AS oldest
  FROM events_trimmed

-- name: events_trim_bound
-- Where one trim step may stop: among the oldest $2 events after the mark, the first one
-- written at or after $1 (`young`: the step stops below it, so the kept log stays a
-- contiguous tail even when clocks disagree), the last of them, and the newest event overall
-- (never trimmed: it tells readers how far the log got).
WITH head AS (
    SELECT id, created_at FROM events
     WHERE id > (SELECT through FROM events_trimmed) ORDER BY id LIMIT $2
)
SELECT (SELECT through FROM events_trimmed) AS trimmed,
       (SELECT min(id) FROM head WHERE created_at >= $1) AS young,
       (SELECT max(id) FROM head) AS last,
       (SELECT max(id) FROM events) AS newest

-- name: events_trim
DELETE FROM events WHERE id > $1 AND id <= $2

-- name: events_trimmed_set
UPDATE events_trimmed SET through = $1 WHERE through < $1

-- name: pg_events_trim_lock
-- one event trimmer at a time across server processes (held to the end of the transaction)
SELECT pg_try_advisory_xact_lock(hashtext('ats.events_trim'))

-- name: list_orgs
SELECT * FROM orgs ORDER BY slug

-- name: get_org
SELECT * FROM orgs WHERE slug = $1

-- name: create_org
INSERT INTO orgs (slug, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING *

-- name: update_org
UPDATE orgs SET slug = $2, name = $3, updated_at = $4 WHERE slug = $1 RETURNING *

-- name: list_projects
SELECT p.*, o.slug AS org,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'pending') AS pending_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c
         WHERE c.project_id = p.id AND c.status = 'in_progress') AS in_progress_count,
       (SELECT coalesce(sum(c.n), 0) FROM task_count_view c WHERE c.project_id = p.id)
           AS total_count
  FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = $1
 ORDER BY p.slug

-- name: get_project
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 WHERE o.slug = $1 AND p.slug = $2

-- name: default_project
-- The project unscoped routes use: the first one made (by the first migration, as
-- default/main). Found by id, so renaming its org or itself changes nothing.
SELECT p.*, o.slug AS org FROM projects p JOIN orgs o ON o.id = p.org_id
 ORDER BY p.id LIMIT 1

-- name: create_project
INSERT INTO projects (org_id, slug, name, description, created_at, updated_at)
SELECT o.id, $2, $3, $4, $5, $5 FROM orgs o WHERE o.slug = $1
RETURNING *, $1::text AS org

-- name: update_project
UPDATE projects p SET slug = $3, name = $4, description = $5, updated_at = $6
  FROM orgs o
 WHERE o.id = p.org_id AND o.slug = $1 AND p.slug = $2
RETURNING p.*, o.slug AS org

-- name: project_paths
SELECT p.id, o.slug || '/' || p.slug AS path FROM projects p JOIN orgs o ON o.id = p.org_id

-- name: read_tasks
SELECT t.*,
       (SELECT json_agg(json_build_array(p.id, p.status) ORDER BY p.id)
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = ANY($1::bigint[])

-- name: write_tasks
-- write_task for a batch: every row is a compare-and-set on its own version; rows that changed
-- meanwhile are left alone (and not returned), the others get their events, in one round trip.
-- JSON travels as text[] and is cast here: a json[] parameter would read a JSON array value as
-- an extra array dimension.
WITH x AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::int[],
                         $11::text[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[],
                         $16::text[], $17::smallint[], $18::text[], $19::text[], $20::text[])
        AS x(id, version, status, outputs, assignee_type, assignee_id, assignee_name,
             lease_expires, lease_token, attempts, reason, available_at, updated_at,
             completed_at, title, description, priority, type, channel, payload)
), u AS (
    UPDATE tasks t
       SET status = x.status, outputs = x.outputs::json, assignee_type = x.assignee_type,
           assignee_id = x.assignee_id, assignee_name = x.assignee_name,
           lease_expires = x.lease_expires, lease_token = x.lease_token, attempts = x.attempts,
           reason = x.reason, available_at = x.available_at, updated_at = x.updated_at,
           completed_at = x.completed_at, title = x.title, description = x.description,
           priority = x.priority, type = x.type, channel = x.channel, payload = x.payload::json,
           version = t.version + 1
      FROM x
     WHERE t.id = x.id AND t.version = x.version
    RETURNING t.id, t.project_id, t.channel, t.type, t.version
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT v.type, u.id, u.project_id, u.channel, u.type, $24, $25, $26, $27, v.snapshot::json
      FROM unnest($21::bigint[], $22::text[], $23::text[]) WITH ORDINALITY
           AS v(task_id, type, snapshot, n)
      JOIN u ON u.id = v.task_id
     ORDER BY v.n
)
SELECT id, version FROM u

-- name: complete_held
-- The hot path of `complete`, in one statement: the task is in_progress, held by this actor, and
-- the lease token (when given) is current — exactly the case lifecycle.apply always allows.
-- Anything else updates nothing and the store falls back to the general path, which gives the
-- precise answer (or error).
WITH u AS (
    UPDATE tasks
       SET status = 'completed', outputs = $2, lease_expires = NULL, updated_at = $6,
           completed_at = $6, version = version + 1
     WHERE id = $1 AND status = 'in_progress' AND assignee_type = $3 AND assignee_id = $4
       AND ($5::bigint IS NULL OR lease_token = $5)
       AND ($8::bigint IS NULL OR project_id = $8)
    RETURNING *
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.completed', u.id, u.project_id, u.channel, u.type, $3, $4, $7, $6,
           row_to_json(u)
      FROM u
)
SELECT * FROM u

-- name: tidy_due
-- The churned tables whose dead row versions should go now: more than $1 (claims leave them at
-- the head of the pending index, and claim throughput halves within seconds), or more than a
-- tenth of the live rows (a small queue like feed_events doubles its size long before
-- autovacuum, which wakes once a minute at best, gets to it). Sources: see migration 0006.
SELECT relname AS name
  FROM pg_stat_user_tables
 WHERE schemaname = current_schema()
   AND relname IN ('tasks', 'events', 'events_trimmed', 'messages', 'task_deps', 'feed_events',
                   'feed_counts', 'feed_clock', 'task_counts', 'task_count_deltas', 'task_hours')
   AND n_dead_tup >= least($1, 50 + n_live_tup / 10)
 ORDER BY relname

-- name: tidy_lock
SELECT pg_try_advisory_lock(1096045314)

-- name: tidy_unlock
SELECT pg_advisory_unlock(1096045314)

-- name: storage_tables
-- `ats db stats`: rows are the statistics' estimate (exact counts would scan); bytes include
-- TOAST and the free-space and visibility maps.
SELECT c.relname AS name, coalesce(s.n_live_tup, 0) AS rows, coalesce(s.n_dead_tup, 0) AS dead_rows,
       pg_table_size(c.oid) AS bytes, pg_indexes_size(c.oid) AS index_bytes,
       pg_total_relation_size(c.oid) AS total_bytes
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')
 ORDER BY c.relname

-- name: storage_indexes
SELECT i.relname AS name, t.relname AS table_name, greatest(i.reltuples, 0)::bigint AS rows,
       pg_relation_size(i.oid) AS bytes
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = current_schema()
 ORDER BY t.relname, i.relname

-- name: storage_database
SELECT pg_database_size(current_database()) AS bytes,
       current_setting('block_size')::bigint AS page_size

-- name: pg_notify_events
-- PostgreSQL only (cross-process wake-ups, see signals.py); the payload is empty on purpose
SELECT pg_notify($1, '')

-- ==== the activity feed =========================================================================

-- name: feed_lock
SELECT last_id FROM feed_clock FOR UPDATE

-- name: feed_insert
INSERT INTO feed_events (id, project_id, agent, type, summary, detail, metadata, published_at)
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::json[], $8::bigint[])
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: feed_set_clock
UPDATE feed_clock SET last_id = $1 WHERE last_id < $1

-- name: feed_count_add
INSERT INTO feed_counts (project_id, n) VALUES ($1, $2)
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + EXCLUDED.n
RETURNING n

-- name: feed_trim
DELETE FROM feed_events
 WHERE id IN (SELECT id FROM feed_events WHERE project_id = $1 ORDER BY id LIMIT $2)

-- name: feed_count_sub
UPDATE feed_counts SET n = n - $2 WHERE project_id = $1

-- name: feed_over
SELECT project_id, n FROM feed_counts WHERE n > $1 ORDER BY project_id

-- name: pg_feed_trim_lock
-- one trimmer at a time across server processes; publishes are not blocked by it
SELECT pg_try_advisory_xact_lock(1096045315)

-- name: feed_after
SELECT * FROM feed_events
 WHERE id > $1
   AND ($2::bigint IS NULL OR project_id = $2)
   AND ($3::text IS NULL OR agent = $3)
   AND ($4::text IS NULL OR type = $4)
 ORDER BY id
 LIMIT $5

-- name: feed_last
SELECT * FROM (
    SELECT * FROM feed_events
     WHERE ($1::bigint IS NULL OR project_id = $1)
       AND ($2::text IS NULL OR agent = $2)
       AND ($3::text IS NULL OR type = $3)
     ORDER BY id DESC
     LIMIT $4
) newest
ORDER BY id

-- name: feed_get
SELECT * FROM feed_events WHERE id = $1 AND ($2::bigint IS NULL OR project_id = $2)

-- name: feed_clear
DELETE FROM feed_events WHERE ($1::bigint IS NULL OR project_id = $1)

-- name: feed_clear_counts
DELETE FROM feed_counts WHERE ($1::bigint IS NULL OR project_id = $1)

-- name: feed_by_agent
SELECT agent AS key, count(*) AS n FROM feed_events
 WHERE ($1::bigint IS NULL OR project_id = $1) GROUP BY agent ORDER BY agent

-- name: feed_by_type
SELECT type AS key, count(*) AS n FROM feed_events
 WHERE ($1::bigint IS NULL OR project_id = $1) GROUP BY type ORDER BY type

-- name: feed_latest_per_agent
SELECT f.* FROM feed_events f
  JOIN (SELECT max(id) AS id FROM feed_events
         WHERE ($1::bigint IS NULL OR project_id = $1) GROUP BY agent) newest ON f.id = newest.id
 ORDER BY f.agent

-- name: feed_head
SELECT last_id FROM feed_clock

-- name: pg_feed_publish
-- PostgreSQL only: a whole batch in one statement. The clock moves only if it still holds the
-- value the ids were computed from ($10); a publisher in another process that got there first
-- makes this insert nothing (no rows back), and the caller reads the clock again and retries.
-- The clock row's lock is held to commit, so id order is commit order.
WITH clock AS (
    UPDATE feed_clock SET last_id = $9 WHERE last_id = $10 RETURNING 1
), added AS (
    INSERT INTO feed_events (id, project_id, agent, type, summary, detail, metadata, published_at)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::json[], $8::bigint[])
     WHERE EXISTS (SELECT 1 FROM clock)
    RETURNING project_id
)
INSERT INTO feed_counts (project_id, n)
SELECT project_id, count(*) FROM added GROUP BY project_id
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + EXCLUDED.n
RETURNING project_id, n
