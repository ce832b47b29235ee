-- Session settings the server asks for at connection start, kept on the role
-- so they also hold behind PgBouncer (which does not pass them through).
ALTER ROLE booking SET statement_timeout = '15s';
ALTER ROLE booking SET idle_in_transaction_session_timeout = '30s';
