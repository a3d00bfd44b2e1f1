-- Same schema as the PostgreSQL backend: integer millisecond timestamps, JSON kept as text
-- (verbatim). AUTOINCREMENT so an id is never reused, even after the newest row is deleted.

CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id      INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);

INSERT INTO orgs (slug, name, created_at, updated_at) VALUES ('default', 'Default', 0, 0);
INSERT INTO projects (org_id, slug, name, description, created_at, updated_at)
SELECT id, 'main', 'Main', NULL, 0, 0 FROM orgs WHERE slug = 'default';

CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects (id),
    title         TEXT NOT NULL,
    description   TEXT,
    status        TEXT NOT NULL,
    priority      INTEGER NOT NULL,
    type          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    payload       TEXT NOT NULL,
    outputs       TEXT,
    source_type   TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    source_name   TEXT NOT NULL,
    assignee_type TEXT,
    assignee_id   TEXT,
    assignee_name TEXT,
    lease_expires INTEGER,
    lease_token   INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER,
    depends_on    TEXT NOT NULL,
    reason        TEXT,
    available_at  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    version       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX tasks_claimable ON tasks (priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_claimable_channel ON tasks (channel, priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks (lease_expires) WHERE status = 'in_progress';
CREATE INDEX tasks_status ON tasks (status, created_at);
CREATE INDEX tasks_project ON tasks (project_id, status);

CREATE TABLE task_deps (
    task_id    INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    PRIMARY KEY (task_id, depends_on)
);
CREATE INDEX task_deps_reverse ON task_deps (depends_on);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    parts       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX messages_task ON messages (task_id, id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    type        TEXT NOT NULL,
    task_id     INTEGER NOT NULL,
    project_id  INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    task_type   TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    task        TEXT NOT NULL,
    message     TEXT
);
