-- GET /tasks stays flat as history grows (SPEC §9.1): an index for every documented filter with
-- the default sort (created_at, then id), one per sort key, and a trigram index for search.
-- SQLite appends the rowid (id) to every index, so `tasks_status (status, created_at)` from 0001
-- already serves `status=` with the default sort; `id` is written out here to say what each
-- index is for, and to keep the keyset order (sort value, id) visible.
CREATE INDEX tasks_list_created ON tasks (created_at, id);
CREATE INDEX tasks_list_updated ON tasks (updated_at, id);
CREATE INDEX tasks_list_priority ON tasks (priority, id);
CREATE INDEX tasks_list_title ON tasks (title, id);
CREATE INDEX tasks_list_status ON tasks (status, id);
CREATE INDEX tasks_list_channel ON tasks (channel, created_at, id);
CREATE INDEX tasks_list_type ON tasks (type, created_at, id);
CREATE INDEX tasks_list_assignee ON tasks (assignee_id, created_at, id);
CREATE INDEX tasks_list_project ON tasks (project_id, created_at, id);

-- search=: an external-content FTS5 table over title and description (the text is not stored
-- twice), kept in step by triggers. The trigram tokenizer matches any substring of 3 or more
-- characters, case-insensitively (Unicode case folding).
CREATE VIRTUAL TABLE tasks_fts USING fts5 (
    title, description, content = 'tasks', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO tasks_fts (tasks_fts) VALUES ('rebuild');

CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tasks_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;

CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
END;

CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description ON tasks BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, title, description)
    VALUES ('delete', old.id, old.title, old.description);
    INSERT INTO tasks_fts (rowid, title, description) VALUES (new.id, new.title, new.description);
END;
