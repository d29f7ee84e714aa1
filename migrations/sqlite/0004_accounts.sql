-- Accounts: an email belongs to one user at most (Harbor answers 409 for a taken one).
-- Empty emails (the bootstrap admin's) are exempt. Same SQL in both dialects; keep in
-- step with ../postgres/0004_accounts.sql.

CREATE UNIQUE INDEX users_email_unique ON users (email) WHERE email <> '';
