-- GET /tasks stays flat as history grows (SPEC §9.1): an index for every documented filter with
-- the default sort (created_at, then id), one per sort key, and trigram indexes for search.
-- Every btree ends in id: the keyset order is (sort value, id), so a cursor seeks straight to
-- its place and the page comes off the index in order, without a sort.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- 0001's (status, created_at) lacked the id tie-break, so a page had to be sorted once more.
DROP INDEX IF EXISTS tasks_status;
CREATE INDEX tasks_status ON tasks (status, created_at, id);

CREATE INDEX tasks_list_created ON tasks (created_at, id);
CREATE INDEX tasks_list_updated ON tasks (updated_at, id);
CREATE INDEX tasks_list_priority ON tasks (priority, id);
CREATE INDEX tasks_list_title ON tasks (title, id);
CREATE INDEX tasks_list_status ON tasks (status, id);
CREATE INDEX tasks_list_channel ON tasks (channel, created_at, id);
CREATE INDEX tasks_list_type ON tasks (type, created_at, id);
CREATE INDEX tasks_list_assignee ON tasks (assignee_id, created_at, id);
CREATE INDEX tasks_list_project ON tasks (project_id, created_at, id);

-- search=: `title ILIKE '%…%'` (and description) served by trigram GIN indexes; ILIKE keeps the
-- exact meaning the scan had (Unicode case-insensitive, `%` and `_` escaped by the store).
CREATE INDEX tasks_list_title_trgm ON tasks USING gin (title gin_trgm_ops);
CREATE INDEX tasks_list_description_trgm ON tasks USING gin (description gin_trgm_ops);
