-- +goose Up
-- Resource pools (docs/adr/0009, "Pools"): one bookable service offered by
-- several resources ("Tennis — any court" over courts 1–4). A booking of a
-- pool is an ordinary booking of one member, chosen inside the hold
-- transaction; the no-overlap constraint and the places counter settle each
-- try, so pools need no rule of their own in the bookings table.
-- New tables only: nothing existing is locked or rewritten.
CREATE TABLE pools (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug       text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pools_slug_key UNIQUE (slug),
    CONSTRAINT pools_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    CONSTRAINT pools_name_length CHECK (char_length(name) BETWEEN 1 AND 200)
);

-- Members in the order an admin listed them. A resource may belong to
-- several pools; deleting a resource is refused while it is a member.
CREATE TABLE pool_members (
    pool_id     uuid NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    resource_id uuid NOT NULL REFERENCES resources (id),
    position    integer NOT NULL,
    PRIMARY KEY (pool_id, resource_id)
);
CREATE INDEX pool_members_resource_idx ON pool_members (resource_id);

-- +goose Down
DROP TABLE pool_members;
DROP TABLE pools;
