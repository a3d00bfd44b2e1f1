-- Event log retention (ats serve --events-retention): the trimmer deletes the oldest events in id
-- order, so what is kept is always a contiguous tail of the log, and records here how far it went.
-- Every event id up to `through` is gone (or never existed): a reader asking for the events after
-- an id below it gets 410 Gone instead of a silent gap. One row; 0 before the first trim.
CREATE TABLE events_trimmed (
    one      bigint PRIMARY KEY CHECK (one = 1),
    through  bigint NOT NULL
);
INSERT INTO events_trimmed (one, through) VALUES (1, 0);
