-- Timestamps are integer milliseconds since the epoch (UTC), as on SQLite, so both backends map
-- rows the same way. payload/outputs/depends_on are `json`, not `jsonb`: the spec promises the
-- payload back verbatim (key order, spacing of numbers), which jsonb would normalise.

CREATE TABLE orgs (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE,
    name        text NOT NULL,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);

CREATE TABLE projects (
    id          bigserial PRIMARY KEY,
    org_id      bigint NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    slug        text NOT NULL,
    name        text NOT NULL,
    description text,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    UNIQUE (org_id, slug)
);

INSERT INTO orgs (slug, name, created_at, updated_at)
VALUES ('default', 'Default', 0, 0);
INSERT INTO projects (org_id, slug, name, description, created_at, updated_at)
SELECT id, 'main', 'Main', NULL, 0, 0 FROM orgs WHERE slug = 'default';

CREATE TABLE tasks (
    id            bigserial PRIMARY KEY,
    project_id    bigint NOT NULL REFERENCES projects (id),
    title         text NOT NULL,
    description   text,
    status        text NOT NULL,
    priority      smallint NOT NULL,
    type          text NOT NULL,
    channel       text NOT NULL,
    payload       json NOT NULL,
    outputs       json,
    source_type   text NOT NULL,
    source_id     text NOT NULL,
    source_name   text NOT NULL,
    assignee_type text,
    assignee_id   text,
    assignee_name text,
    lease_expires bigint,
    lease_token   bigint NOT NULL DEFAULT 0,
    attempts      integer NOT NULL DEFAULT 0,
    max_attempts  integer,
    depends_on    json NOT NULL,
    reason        text,
    available_at  bigint NOT NULL,
    created_at    bigint NOT NULL,
    updated_at    bigint NOT NULL,
    completed_at  bigint,
    -- bumped by every write: status changes are compare-and-set on it (see transitions.py)
    version       bigint NOT NULL DEFAULT 0
);

-- claim-next walks this partial index from the head; it stays small because only pending rows
-- are in it. Autovacuum is made eager because claims leave dead tuples at exactly that head.
CREATE INDEX tasks_claimable ON tasks (priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_claimable_channel ON tasks (channel, priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks (lease_expires) WHERE status = 'in_progress';
CREATE INDEX tasks_status ON tasks (status, created_at);
CREATE INDEX tasks_project ON tasks (project_id, status);
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                       autovacuum_vacuum_cost_delay = 0, fillfactor = 80);

CREATE TABLE task_deps (
    task_id    bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_deps_reverse ON task_deps (depends_on);

CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    task_id     bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    actor_type  text NOT NULL,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    parts       json NOT NULL,
    created_at  bigint NOT NULL
);
CREATE INDEX messages_task ON messages (task_id, id);

-- The durable event log. `task` is the task row after the change (row_to_json of tasks), mapped
-- to the wire shape when read. No foreign key: events outlive deleted tasks.
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    type        text NOT NULL,
    task_id     bigint NOT NULL,
    project_id  bigint NOT NULL,
    channel     text NOT NULL,
    task_type   text NOT NULL,
    actor_type  text NOT NULL,
    actor_id    text NOT NULL,
    actor_name  text NOT NULL,
    created_at  bigint NOT NULL,
    task        json NOT NULL,
    message     json
);
