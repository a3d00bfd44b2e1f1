-- Events keep a snapshot of their task (SPEC §2.3 `data.task`), and every lease renewal, message
-- and status change of a task with a large payload used to copy that payload once more. A payload
-- over 1 KiB now lives once per task in event_payloads; the event's snapshot leaves it out and
-- points at it (payload_ref), and reading an event puts it back. The triggers do it for every
-- writer of events (the statements of queries.sql, fast paths and bulk paths alike).
--
-- SQLite writes one transaction at a time, so looking up an equal payload and reusing it cannot
-- race with retention deleting it. Events written before this migration keep their inline copy
-- until retention trims them.

ALTER TABLE events ADD COLUMN payload_ref INTEGER;

CREATE TABLE event_payloads (
    id       INTEGER PRIMARY KEY,
    task_id  INTEGER NOT NULL,
    body     TEXT NOT NULL  -- the payload as json_extract renders it
);
CREATE INDEX event_payloads_task ON event_payloads (task_id);
CREATE INDEX events_payload_ref ON events (payload_ref) WHERE payload_ref IS NOT NULL;

-- length(NEW.task) first: it is cheap, and almost every snapshot is small.
CREATE TRIGGER events_payload_apart AFTER INSERT ON events
WHEN length(NEW.task) > 1024 AND length(json_extract(NEW.task, '$.payload')) > 1024
BEGIN
    INSERT INTO event_payloads (task_id, body)
    SELECT NEW.task_id, json_extract(NEW.task, '$.payload')
     WHERE NOT EXISTS (SELECT 1 FROM event_payloads
                        WHERE task_id = NEW.task_id
                          AND body = json_extract(NEW.task, '$.payload'));
    UPDATE events
       SET task = json_remove(task, '$.payload'),
           payload_ref = (SELECT max(id) FROM event_payloads
                           WHERE task_id = NEW.task_id
                             AND body = json_extract(NEW.task, '$.payload'))
     WHERE id = NEW.id;
END;

-- Retention deletes events oldest first; a payload goes with the last event pointing at it.
CREATE TRIGGER events_payload_gone AFTER DELETE ON events
WHEN OLD.payload_ref IS NOT NULL
BEGIN
    DELETE FROM event_payloads
     WHERE id = OLD.payload_ref
       AND NOT EXISTS (SELECT 1 FROM events WHERE payload_ref = OLD.payload_ref);
END;
