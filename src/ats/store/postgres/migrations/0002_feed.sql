-- The activity feed (SPEC §7). Ids are ULIDs handed out under the feed_clock row lock, so id
-- order is commit order across every server process: a reader polling "after id X" never
-- misses an event that commits later with a smaller id.
CREATE TABLE feed_events (
    id           text COLLATE "C" PRIMARY KEY,
    project_id   bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    agent        text NOT NULL,
    type         text NOT NULL,
    summary      text NOT NULL,
    detail       text,
    metadata     json,
    published_at bigint NOT NULL
);
CREATE INDEX feed_events_project ON feed_events (project_id, id);
CREATE INDEX feed_events_agent ON feed_events (agent, id);

-- One row: the highest id ever handed out (kept through DELETE /feed/events).
CREATE TABLE feed_clock (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_id  text COLLATE "C" NOT NULL
);
INSERT INTO feed_clock (only_row, last_id) VALUES (true, '');

-- Events kept per project, for retention without counting the table.
CREATE TABLE feed_counts (
    project_id bigint PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    n          bigint NOT NULL
);
