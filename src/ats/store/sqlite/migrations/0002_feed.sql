-- The activity feed (SPEC §7). Ids are ULIDs handed out inside the writing transaction (SQLite
-- has one writer at a time), so id order is commit order.
CREATE TABLE feed_events (
    id           TEXT PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    agent        TEXT NOT NULL,
    type         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    detail       TEXT,
    metadata     TEXT,
    published_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX feed_events_project ON feed_events (project_id, id);
CREATE INDEX feed_events_agent ON feed_events (agent, id);

-- One row: the highest id ever handed out (kept through DELETE /feed/events).
CREATE TABLE feed_clock (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    last_id  TEXT NOT NULL
);
INSERT INTO feed_clock (only_row, last_id) VALUES (1, '');

-- Events kept per project, for retention without counting the table.
CREATE TABLE feed_counts (
    project_id INTEGER PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    n          INTEGER NOT NULL
);
