-- Every change to resources, from any replica or from psql, tells the
-- resource caches of all replicas (postgres.ResourceCache) to forget what
-- they hold. NOTIFY is sent at commit, and not at all on rollback.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION resources_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('resources_changed', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER resources_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resources
    FOR EACH STATEMENT EXECUTE FUNCTION resources_notify();

-- +goose Down
DROP TRIGGER resources_notify ON resources;
DROP FUNCTION resources_notify();
