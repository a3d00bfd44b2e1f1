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
-- One page and the total count of the same filter, in one statement. The LEFT JOIN yields a
-- single row of NULL task columns when the page is empty (an offset past the end), so the count
-- still comes back; the store skips that row.
WITH matching AS NOT MATERIALIZED (
    SELECT * FROM tasks
     WHERE ($1::bigint IS NULL OR project_id = $1)
       AND ($2::text[] IS NULL OR status = ANY($2))
       AND ($3::text IS NULL OR type = $3)
       AND ($4::text IS NULL OR channel = $4)
       AND ($5::text IS NULL OR assignee_id = $5)
       AND ($6::int IS NULL OR priority = $6)
       AND ($7::int IS NULL OR priority >= $7)
       AND ($8::int IS NULL OR priority <= $8)
       AND ($9::text IS NULL OR title ILIKE $9 ESCAPE '\' OR description ILIKE $9 ESCAPE '\')
       AND ($10::bigint IS NULL OR created_at > $10)
       AND ($11::bigint IS NULL OR updated_at > $11)
)
SELECT (SELECT count(*) FROM matching) AS total_count, page.*
  FROM (SELECT 1 AS one) AS one
  LEFT JOIN (SELECT * FROM matching {order} LIMIT $12 OFFSET $13) AS page ON true
 {order}

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

-- name: stats_by_status
SELECT status, count(*) AS n FROM tasks WHERE ($1::bigint IS NULL OR project_id = $1)
 GROUP BY status

-- name: stats_by_channel
SELECT channel, count(*) AS n FROM tasks WHERE ($1::bigint IS NULL OR project_id = $1)
 GROUP BY channel ORDER BY channel

-- name: stats_times
SELECT avg(completed_at - created_at) FILTER (WHERE status = 'completed') AS avg_ms,
       count(*) FILTER (WHERE created_at >= $2) AS created_24h,
       count(*) FILTER (WHERE status = 'completed' AND completed_at >= $2) AS completed_24h,
       count(*) FILTER (WHERE created_at >= $3) AS created_7d,
       count(*) FILTER (WHERE status = 'completed' AND completed_at >= $3) AS completed_7d
  FROM tasks WHERE ($1::bigint IS NULL OR project_id = $1)

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
       (SELECT count(*) FROM tasks t WHERE t.project_id = p.id AND t.status = 'pending')
           AS pending_count,
       (SELECT count(*) FROM tasks t WHERE t.project_id = p.id AND t.status = 'in_progress')
           AS in_progress_count,
       (SELECT count(*) FROM tasks t WHERE t.project_id = p.id) AS total_count
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

-- name: dead_tuples
-- Claims leave dead row versions at the head of the pending index; each claim then steps over
-- them, and claim throughput halves within seconds. Autovacuum wakes once a minute at best.
SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables WHERE relid = 'tasks'::regclass

-- name: tidy_lock
SELECT pg_try_advisory_lock(1096045314)

-- name: tidy_unlock
SELECT pg_advisory_unlock(1096045314)

-- name: vacuum_tasks
VACUUM (SKIP_LOCKED) tasks

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
