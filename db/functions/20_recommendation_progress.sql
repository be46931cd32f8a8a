-- Every change of a recommendation's status, stage or more-picks status is announced on the
-- recommendation_progress channel, so event streams wake at once instead of polling. Payload:
-- "<id> <status> <stage> <more_picks_status or ->": enough for a stream to report the change
-- without reading the row again.
-- NOTIFY is sent at commit: a listener never sees a change the database does not have yet.
CREATE OR REPLACE FUNCTION notify_recommendation_progress() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'recommendation_progress',
        NEW.id::text || ' ' || NEW.status || ' ' || NEW.stage || ' ' || coalesce(NEW.more_picks_status, '-'));
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER recommendations_notify_progress
    AFTER UPDATE OF status, stage, more_picks_status ON recommendations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.stage IS DISTINCT FROM NEW.stage
          OR OLD.more_picks_status IS DISTINCT FROM NEW.more_picks_status)
    EXECUTE FUNCTION notify_recommendation_progress();
