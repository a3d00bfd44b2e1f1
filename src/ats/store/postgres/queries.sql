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
 WHERE t.id = :task_id
   FOR UPDATE OF t

-- name: read_task
-- The same without the lock, for the optimistic path (its write checks the version).
SELECT t.*,
       (SELECT json_agg(json_build_array(p.id, p.status) ORDER BY p.id)
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = :task_id

-- name: lock_expired
-- Another reaper that holds the row is already expiring it: skip it rather than wait, so every
-- expiry is handled (and announced) exactly once.
SELECT t.*, NULL::json AS blockers
  FROM tasks t
 WHERE t.id = :task_id AND t.status = 'in_progress' AND t.lease_expires <= :now
   FOR UPDATE OF t SKIP LOCKED

-- name: expired_candidates
SELECT id FROM tasks
 WHERE status = 'in_progress' AND lease_expires <= :now
 ORDER BY lease_expires
 LIMIT :limit

-- name: write_task
-- Compare-and-set: write every mutable column if the row is still at :version, and append the
-- change's events (in order), in one round trip. No row back = the row changed meanwhile.
WITH u AS (
    UPDATE tasks
       SET title = :title, description = :description, status = :status, priority = :priority,
           type = :type, channel = :channel, payload = :payload, outputs = :outputs,
           assignee_type = :assignee_type, assignee_id = :assignee_id,
           assignee_name = :assignee_name, lease_expires = :lease_expires,
           lease_token = :lease_token, attempts = :attempts, reason = :reason,
           available_at = :available_at, updated_at = :updated_at, completed_at = :completed_at,
           depends_on = :depends_on, version = version + 1
     WHERE id = :id AND version = :version
    RETURNING version
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT x.t, :id, :project_id, :channel, :type, :actor_type, :actor_id, :actor_name, :now, :task
      FROM u, unnest(:events::text[]) WITH ORDINALITY AS x(t, n)
     ORDER BY x.n
)
SELECT version FROM u

-- name: insert_event
INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                    actor_name, created_at, task, message)
VALUES (:type, :task_id, :project_id, :channel, :task_type, :actor_type, :actor_id, :actor_name,
        :now, :task, :message)
RETURNING id

-- name: pending_dependents
SELECT t.id FROM task_deps d JOIN tasks t ON t.id = d.task_id
 WHERE d.depends_on = :task_id AND t.status = 'pending'
 ORDER BY t.id

-- name: create_task
-- One statement, one round trip: the task and its task.created event commit together.
WITH t AS (
    INSERT INTO tasks (project_id, title, description, status, priority, type, channel, payload,
                       source_type, source_id, source_name, max_attempts, depends_on,
                       available_at, created_at, updated_at)
    VALUES (:project_id, :title, :description, 'pending', :priority, :type, :channel, :payload,
            :actor_type, :actor_id, :actor_name, :max_attempts, :depends_on, :now, :now, :now)
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
    SELECT :project_id, x.title, x.description, 'pending', x.priority, x.type, x.channel, x.payload,
           :actor_type, :actor_id, :actor_name, x.max_attempts, '[]'::json, :now, :now, :now
      FROM unnest(:titles::text[], :descriptions::text[], :priorities::smallint[], :types::text[],
                  :channels::text[], :payloads::json[], :max_attempts::int[]) WITH ORDINALITY
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
SELECT :task_id, d FROM unnest(:depends_on::bigint[]) AS d
ON CONFLICT DO NOTHING

-- name: delete_deps
DELETE FROM task_deps WHERE task_id = :task_id

-- name: deps_status
-- FOR SHARE: a dependency cannot change status until the new dependent is committed, so a
-- failure that cascades afterwards finds it.
SELECT id, status FROM tasks WHERE id = ANY(:ids::bigint[]) ORDER BY id FOR SHARE

-- name: dependency_closure
-- Every task that the given tasks depend on, transitively (to refuse cycles).
WITH RECURSIVE up(id) AS (
    SELECT unnest(:ids::bigint[])
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
-- list_where_* fragments below (only the filters given; each binds one parameter named after
-- its filter), the keyset position and the ORDER BY; count_tasks is built there from the same
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
status = ANY(:statuses::text[])

-- name: list_where_search
-- pg_trgm GIN indexes on title and description (migration 0004) serve ILIKE '%…%'.
(title ILIKE :search ESCAPE '\' OR description ILIKE :search ESCAPE '\')

-- name: list_where_search_scan
-- Under 3 characters pg_trgm extracts no trigram; the planner then prefers scanning within the
-- other filters. Same meaning as list_where_search.
(title ILIKE :search_scan ESCAPE '\' OR description ILIKE :search_scan ESCAPE '\')

-- name: claim_next_any
-- Claim-next in one statement: pick the best claimable rows (skipping rows other claimers hold),
-- hand them over, and append their task.claimed events. Two texts, this one for any channel and
-- claim_next_in_channel for one: each keeps a plan that walks its partial index (a
-- `:channel IS NULL OR` filter defeats that once PostgreSQL switches to a generic plan).
WITH c AS (
    SELECT t.id FROM tasks t
     WHERE t.status = 'pending' AND t.available_at <= :now
       AND (:task_type::text IS NULL OR t.type = :task_type)
       AND (:project_id::bigint IS NULL OR t.project_id = :project_id)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT :limit
       FOR UPDATE OF t SKIP LOCKED
), u AS (
    UPDATE tasks t
       SET status = 'in_progress', assignee_type = :actor_type, assignee_id = :actor_id,
           assignee_name = :actor_name, lease_expires = :now + :lease_ms,
           lease_token = t.lease_token + 1, attempts = t.attempts + 1,
           available_at = :now, updated_at = :now, version = t.version + 1
      FROM c
     WHERE t.id = c.id
    RETURNING t.*
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.claimed', u.id, u.project_id, u.channel, u.type, :actor_type, :actor_id,
           :actor_name, :now, row_to_json(u)
      FROM u ORDER BY u.priority DESC, u.id
)
SELECT * FROM u ORDER BY priority DESC, id

-- name: claim_next_in_channel
-- claim_next_any limited to one channel (see there).
WITH c AS (
    SELECT t.id FROM tasks t
     WHERE t.status = 'pending' AND t.available_at <= :now
       AND t.channel = :channel
       AND (:task_type::text IS NULL OR t.type = :task_type)
       AND (:project_id::bigint IS NULL OR t.project_id = :project_id)
       AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks p ON p.id = d.depends_on
                        WHERE d.task_id = t.id AND p.status <> 'completed')
     ORDER BY t.priority DESC, t.id
     LIMIT :limit
       FOR UPDATE OF t SKIP LOCKED
), u AS (
    UPDATE tasks t
       SET status = 'in_progress', assignee_type = :actor_type, assignee_id = :actor_id,
           assignee_name = :actor_name, lease_expires = :now + :lease_ms,
           lease_token = t.lease_token + 1, attempts = t.attempts + 1,
           available_at = :now, updated_at = :now, version = t.version + 1
      FROM c
     WHERE t.id = c.id
    RETURNING t.*
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.claimed', u.id, u.project_id, u.channel, u.type, :actor_type, :actor_id,
           :actor_name, :now, row_to_json(u)
      FROM u ORDER BY u.priority DESC, u.id
)
SELECT * FROM u ORDER BY priority DESC, id

-- name: stats_counts
-- Served by the counters of migration 0005 (totals + pending ledger deltas, one snapshot).
SELECT status, channel, sum(n) AS n, sum(done_ms) AS done_ms FROM task_count_view
 WHERE (:project_id::bigint IS NULL OR project_id = :project_id)
 GROUP BY status, channel HAVING sum(n) <> 0 ORDER BY channel, status

-- name: stats_recent
-- Whole hours: :hour_24h / :hour_7d are the hours (since the epoch) holding now - 24 h and
-- now - 7 d.
SELECT coalesce(sum(created) FILTER (WHERE hour >= :hour_24h), 0) AS created_24h,
       coalesce(sum(completed) FILTER (WHERE hour >= :hour_24h), 0) AS completed_24h,
       coalesce(sum(created), 0) AS created_7d,
       coalesce(sum(completed), 0) AS completed_7d
  FROM task_hour_view
 WHERE (:project_id::bigint IS NULL OR project_id = :project_id) AND hour >= :hour_7d

-- name: count_tasks_exact
SELECT coalesce(sum(n), 0) AS n FROM task_count_view
 WHERE (:project_id::bigint IS NULL OR project_id = :project_id)
   AND (:statuses::text[] IS NULL OR status = ANY(:statuses))
   AND (:channel::text IS NULL OR channel = :channel)
   AND (:type::text IS NULL OR type = :type)

-- name: pg_fold_lock
SELECT pg_try_advisory_xact_lock(1096045316)

-- name: pg_fold_task_counts
-- Moves up to :batch committed ledger rows into the totals; returns how many it moved. Rows
-- written by transactions still open are invisible here and stay for the next fold.
WITH d AS (
    DELETE FROM task_count_deltas
     WHERE ctid = ANY (ARRAY(SELECT ctid FROM task_count_deltas LIMIT :batch))
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
SELECT id, created_at FROM events WHERE id > :since ORDER BY id LIMIT :limit

-- name: event_tail
SELECT id, created_at FROM events WHERE id > :since ORDER BY id DESC LIMIT :limit

-- name: events_after
-- payload_body: the payload migration 0007 keeps apart (base.event_snapshot puts it back)
SELECT e.*, p.body AS payload_body
  FROM events e LEFT JOIN event_payloads p ON p.id = e.payload_ref
 WHERE e.id > :since AND e.id <= :horizon
   AND (:project_id::bigint IS NULL OR e.project_id = :project_id)
   AND (:channel::text IS NULL OR e.channel = :channel)
   AND (:task_type::text IS NULL OR e.task_type = :task_type)
   AND (:types::text[] IS NULL OR e.type = ANY(:types))
   AND (:task_id::bigint IS NULL OR e.task_id = :task_id)
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

-- name: pg_events_trim_lock
-- one event trimmer at a time across server processes (held to the end of the transaction)
SELECT pg_try_advisory_xact_lock(hashtext('ats.events_trim'))

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
RETURNING *, :org::text AS org

-- name: update_project
UPDATE projects p SET slug = :new_slug, name = :name, description = :description, updated_at = :now
  FROM orgs o
 WHERE o.id = p.org_id AND o.slug = :org AND p.slug = :slug
RETURNING p.*, o.slug AS org

-- name: project_paths
SELECT p.id, o.slug || '/' || p.slug AS path FROM projects p JOIN orgs o ON o.id = p.org_id

-- name: read_tasks
SELECT t.*,
       (SELECT json_agg(json_build_array(p.id, p.status) ORDER BY p.id)
          FROM task_deps d JOIN tasks p ON p.id = d.depends_on
         WHERE d.task_id = t.id AND p.status <> 'completed') AS blockers
  FROM tasks t
 WHERE t.id = ANY(:ids::bigint[])

-- name: write_tasks
-- write_task for a batch: every row is a compare-and-set on its own version; rows that changed
-- meanwhile are left alone (and not returned), the others get their events, in one round trip.
-- JSON travels as text[] and is cast here: a json[] parameter would read a JSON array value as
-- an extra array dimension.
WITH x AS (
    SELECT * FROM unnest(:ids::bigint[], :versions::bigint[], :statuses::text[], :outputs::text[],
                         :assignee_types::text[], :assignee_ids::text[], :assignee_names::text[],
                         :lease_expires::bigint[], :lease_tokens::bigint[], :attempts::int[],
                         :reasons::text[], :available_ats::bigint[], :updated_ats::bigint[],
                         :completed_ats::bigint[], :titles::text[], :descriptions::text[],
                         :priorities::smallint[], :types::text[], :channels::text[],
                         :payloads::text[])
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
    SELECT v.type, u.id, u.project_id, u.channel, u.type, :actor_type, :actor_id, :actor_name,
           :now, v.snapshot::json
      FROM unnest(:event_task_ids::bigint[], :event_types::text[], :event_snapshots::text[])
           WITH ORDINALITY AS v(task_id, type, snapshot, n)
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
       SET status = 'completed', outputs = :outputs, lease_expires = NULL, updated_at = :now,
           completed_at = :now, version = version + 1
     WHERE id = :task_id AND status = 'in_progress'
       AND assignee_type = :actor_type AND assignee_id = :actor_id
       AND (:lease_token::bigint IS NULL OR lease_token = :lease_token)
       AND (:project_id::bigint IS NULL OR project_id = :project_id)
    RETURNING *
), e AS (
    INSERT INTO events (type, task_id, project_id, channel, task_type, actor_type, actor_id,
                        actor_name, created_at, task)
    SELECT 'task.completed', u.id, u.project_id, u.channel, u.type, :actor_type, :actor_id,
           :actor_name, :now, row_to_json(u)
      FROM u
)
SELECT * FROM u

-- name: tidy_due
-- The churned tables due for upkeep, one catalog read for both kinds:
-- `dead` (VACUUM): dead row versions should go now — more than :dead_rows (claims leave them at the
-- head of the pending index, and claim throughput halves within seconds), or more than a tenth of
-- the live rows (a small queue like feed_events doubles its size long before autovacuum, which
-- wakes once a minute at best, gets to it). Sources: see migration 0006.
-- `stale` (ANALYZE): the planner statistics are stale — changed by more than a twentieth of the rows (at
-- least 1,000) since the last ANALYZE. Autovacuum would see to it, if it is on and once it wakes;
-- a server whose statistics still describe 10,000 tasks when it holds a million reads every
-- match of a common search to sort them (240 ms) instead of walking the newest (0.5 ms).
SELECT name, dead, stale
  FROM (SELECT relname AS name,
               n_dead_tup >= least(:dead_rows, 50 + n_live_tup / 10) AS dead,
               relname IN ('tasks', 'events', 'messages', 'task_deps', 'feed_events')
                 AND n_mod_since_analyze >= greatest(1000, n_live_tup / 20) AS stale
          FROM pg_stat_user_tables
         WHERE schemaname = current_schema()
           AND relname IN ('tasks', 'events', 'events_trimmed', 'messages', 'task_deps',
                           'feed_events', 'feed_counts', 'feed_clock', 'task_counts',
                           'task_count_deltas', 'task_hours')) AS t
 WHERE dead OR stale
 ORDER BY name

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
SELECT pg_notify(:channel, '')

-- ==== the activity feed =========================================================================

-- name: feed_lock
SELECT last_id FROM feed_clock FOR UPDATE

-- name: feed_insert
INSERT INTO feed_events (id, project_id, agent, type, summary, detail, metadata, published_at)
SELECT * FROM unnest(:ids::text[], :project_ids::bigint[], :agents::text[], :types::text[],
                     :summaries::text[], :details::text[], :metadata::json[],
                     :published_at::bigint[])
ON CONFLICT (id) DO NOTHING
RETURNING id

-- name: feed_set_clock
UPDATE feed_clock SET last_id = :last_id WHERE last_id < :last_id

-- name: feed_count_add
INSERT INTO feed_counts (project_id, n) VALUES (:project_id, :n)
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + EXCLUDED.n
RETURNING n

-- name: feed_trim
DELETE FROM feed_events
 WHERE id IN (SELECT id FROM feed_events WHERE project_id = :project_id ORDER BY id LIMIT :n)

-- name: feed_count_sub
UPDATE feed_counts SET n = n - :n WHERE project_id = :project_id

-- name: feed_over
SELECT project_id, n FROM feed_counts WHERE n > :keep ORDER BY project_id

-- name: pg_feed_trim_lock
-- one trimmer at a time across server processes; publishes are not blocked by it
SELECT pg_try_advisory_xact_lock(1096045315)

-- name: feed_after
SELECT * FROM feed_events
 WHERE id > :after
   AND (:project_id::bigint IS NULL OR project_id = :project_id)
   AND (:agent::text IS NULL OR agent = :agent)
   AND (:type::text IS NULL OR type = :type)
 ORDER BY id
 LIMIT :limit

-- name: feed_last
SELECT * FROM (
    SELECT * FROM feed_events
     WHERE (:project_id::bigint IS NULL OR project_id = :project_id)
       AND (:agent::text IS NULL OR agent = :agent)
       AND (:type::text IS NULL OR type = :type)
     ORDER BY id DESC
     LIMIT :limit
) newest
ORDER BY id

-- name: feed_get
SELECT * FROM feed_events
 WHERE id = :event_id AND (:project_id::bigint IS NULL OR project_id = :project_id)

-- name: feed_clear
DELETE FROM feed_events WHERE (:project_id::bigint IS NULL OR project_id = :project_id)

-- name: feed_clear_counts
DELETE FROM feed_counts WHERE (:project_id::bigint IS NULL OR project_id = :project_id)

-- name: feed_by_agent
SELECT agent AS key, count(*) AS n FROM feed_events
 WHERE (:project_id::bigint IS NULL OR project_id = :project_id) GROUP BY agent ORDER BY agent

-- name: feed_by_type
SELECT type AS key, count(*) AS n FROM feed_events
 WHERE (:project_id::bigint IS NULL OR project_id = :project_id) GROUP BY type ORDER BY type

-- name: feed_latest_per_agent
SELECT f.* FROM feed_events f
  JOIN (SELECT max(id) AS id FROM feed_events
         WHERE (:project_id::bigint IS NULL OR project_id = :project_id) GROUP BY agent) newest
    ON f.id = newest.id
 ORDER BY f.agent

-- name: feed_head
SELECT last_id FROM feed_clock

-- name: pg_feed_publish
-- PostgreSQL only: a whole batch in one statement. The clock moves only if it still holds the
-- value the ids were computed from (:clock); a publisher in another process that got there first
-- makes this insert nothing (no rows back), and the caller reads the clock again and retries.
-- The clock row's lock is held to commit, so id order is commit order.
WITH clock AS (
    UPDATE feed_clock SET last_id = :last_id WHERE last_id = :clock RETURNING 1
), added AS (
    INSERT INTO feed_events (id, project_id, agent, type, summary, detail, metadata, published_at)
    SELECT * FROM unnest(:ids::text[], :project_ids::bigint[], :agents::text[], :types::text[],
                         :summaries::text[], :details::text[], :metadata::json[],
                         :published_at::bigint[])
     WHERE EXISTS (SELECT 1 FROM clock)
    RETURNING project_id
)
INSERT INTO feed_counts (project_id, n)
SELECT project_id, count(*) FROM added GROUP BY project_id
ON CONFLICT (project_id) DO UPDATE SET n = feed_counts.n + EXCLUDED.n
RETURNING project_id, n

-- ==== migrations (PostgreSQL only) =============================================================

-- name: pg_migration_lock
-- serialises `ats db upgrade` across processes (a session lock: held across the migrations'
-- transactions, released by pg_migration_unlock)
SELECT pg_advisory_lock(:key)

-- name: pg_migration_unlock
SELECT pg_advisory_unlock(:key)

-- name: pg_migrations_table
CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                                              applied_at timestamptz NOT NULL DEFAULT now())

-- name: pg_migrations_done
SELECT version FROM schema_migrations

-- name: pg_migration_applied
INSERT INTO schema_migrations (version, name) VALUES (:version, :name)
